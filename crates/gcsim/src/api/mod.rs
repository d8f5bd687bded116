//! The simulated Platform API operations, one module per area, and the
//! table from the contract's operation names to their handlers.
//!
//! A handler is a plain function over the locked org and the parsed request
//! ([`Call`]); it checks the caller's permission first, then validates,
//! then changes the org and renders the answer.

pub mod authorization;
pub mod groups;
pub mod idp;
pub mod integrations;
pub mod login;
pub mod oauth;
pub mod org;
pub mod queues;
pub mod users;

use crate::auth::Caller;
use crate::contract::{self, Mode, Operation};
use crate::error::{ApiError, ApiResult};
use crate::model::Org;
use crate::params::Query;
use crate::server::Settings;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A parsed API request.
pub struct Call {
    /// The contract operation.
    pub op: &'static Operation,
    /// The concrete request path.
    pub path: String,
    /// Path parameters by the contract's names.
    pub params: HashMap<String, String>,
    /// Query parameters.
    pub query: Query,
    /// JSON body (`None` when absent or the literal `null`).
    pub body: Option<Value>,
    /// Who is calling.
    pub caller: Caller,
    /// When the request arrived.
    pub now: Instant,
    /// Injection settings in force.
    pub settings: Settings,
}

/// What a handler answers.
pub enum Reply {
    /// A JSON body with a status.
    Json(StatusCode, Value),
    /// A status without a body.
    Empty(StatusCode),
    /// A prepared response.
    Raw(Response),
}

/// A handler.
pub type Handler = fn(&mut Org, &Call) -> ApiResult<Reply>;

/// 200 with a JSON body.
pub fn ok(v: Value) -> ApiResult<Reply> {
    Ok(Reply::Json(StatusCode::OK, v))
}

/// 204 without a body.
pub fn no_content() -> ApiResult<Reply> {
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// 202 with an empty JSON object.
pub fn accepted() -> ApiResult<Reply> {
    Ok(Reply::Json(StatusCode::ACCEPTED, json!({})))
}

impl Call {
    /// A path parameter.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// The grant delay in force.
    pub fn grant_delay(&self) -> Duration {
        Duration::from_millis(self.settings.grant_delay_ms)
    }

    /// Whether an object created with this `visible_at` shows in listings.
    pub fn listed(&self, visible_at: Instant) -> bool {
        self.now >= visible_at
    }

    /// `visible_at` for an object created by this request.
    pub fn visible_at(&self) -> Instant {
        self.now + Duration::from_millis(self.settings.eventual_ms)
    }

    /// The body, validated against the first model (fields of the others
    /// are tolerated); `None` when absent.
    pub fn body(&self, models: &[&str]) -> ApiResult<Option<&Value>> {
        match &self.body {
            None => Ok(None),
            Some(v) => {
                contract::validate_any(models, v, Mode::Request).map_err(ApiError::bad_request)?;
                Ok(Some(v))
            }
        }
    }

    /// The body, required.
    pub fn require_body(&self, models: &[&str]) -> ApiResult<&Value> {
        self.body(models)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "A request body ({}) is required",
                models.first().copied().unwrap_or("object")
            ))
        })
    }

    /// The body as a list of strings (`list[str]` bodies).
    pub fn body_strings(&self) -> ApiResult<Vec<String>> {
        let Some(v) = &self.body else {
            return Err(ApiError::bad_request(
                "A request body (a list of ids) is required",
            ));
        };
        let arr = v
            .as_array()
            .ok_or_else(|| ApiError::bad_request("The request body must be a JSON list of ids"))?;
        arr.iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request("The request body must be a JSON list of strings")
                })
            })
            .collect()
    }

    /// 403 unless the caller holds one of `perms`.
    pub fn require(&self, org: &Org, perms: &[&str]) -> ApiResult<()> {
        org.require_any(&self.caller, perms, self.now, self.grant_delay())
    }
}

/// `{id, name, selfUri}` of a division (`*` → all divisions).
pub fn division_ref(org: &Org, id: &str) -> Value {
    if id == "*" {
        return json!({"id": "*", "name": "All divisions", "selfUri": "/api/v2/authorization/divisions/*"});
    }
    let name = org.divisions.get(id).map(|d| d.name.clone());
    json!({"id": id, "name": name, "selfUri": format!("/api/v2/authorization/divisions/{id}")})
}

/// `{id, name, selfUri}` of a user.
pub fn user_ref(org: &Org, id: &str) -> Value {
    let name = org.users.get(id).map(|u| u.name.clone());
    json!({"id": id, "name": name, "selfUri": format!("/api/v2/users/{id}")})
}

/// 400 for a name already taken.
pub fn duplicate_name(kind: &str, name: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad.request",
        format!("A {kind} named \"{name}\" already exists"),
    )
    .param("name", name)
}

/// A required, non-empty string field of a body.
pub fn required_str<'a>(body: &'a Value, field: &str) -> ApiResult<&'a str> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("The field \"{field}\" is required")))
}

/// The handler of a contract operation.
pub fn handler(operation: &str) -> Option<Handler> {
    use authorization as a;
    let h: Handler = match operation {
        "get_authorization_divisions" => a::list_divisions,
        "post_authorization_divisions" => a::create_division,
        "get_authorization_divisions_home" => a::home_division,
        "get_authorization_division" => a::get_division,
        "put_authorization_division" => a::update_division,
        "delete_authorization_division" => a::delete_division,
        "get_authorization_permissions" => a::list_permissions,
        "get_authorization_roles" => a::list_roles,
        "post_authorization_roles" => a::create_role,
        "get_authorization_role" => a::get_role,
        "put_authorization_role" => a::update_role,
        "patch_authorization_role" => a::patch_role,
        "delete_authorization_role" => a::delete_role,
        "post_authorization_role" => a::bulk_grant_role,
        "get_authorization_role_subjectgrants" => a::role_subject_grants,
        "get_authorization_role_users" => a::role_users,
        "put_authorization_role_users_add" => a::role_users_add,
        "put_authorization_role_users_remove" => a::role_users_remove,
        "get_authorization_subjects_me" => a::subject_me,
        "get_authorization_subject" => a::get_subject,
        "post_authorization_subject_bulkadd" => a::subject_bulk_add,
        "post_authorization_subject_bulkremove" => a::subject_bulk_remove,
        "post_authorization_subject_bulkreplace" => a::subject_bulk_replace,
        "post_authorization_subject_division_role" => a::subject_grant_one,
        "delete_authorization_subject_division_role" => a::subject_revoke_one,
        "get_user_roles" => a::user_roles,
        "put_user_roles" => a::set_user_roles,
        "get_groups" => groups::list,
        "post_groups" => groups::create,
        "get_group" => groups::get,
        "put_group" => groups::update,
        "delete_group" => groups::delete,
        "get_group_members" => groups::members,
        "post_group_members" => groups::add_members,
        "delete_group_members" => groups::remove_members,
        "post_groups_search" => groups::search_post,
        "get_groups_search" => groups::search_get,
        "get_oauth_clients" => oauth::list,
        "post_oauth_clients" => oauth::create,
        "get_oauth_client" => oauth::get,
        "put_oauth_client" => oauth::update,
        "delete_oauth_client" => oauth::delete,
        "post_oauth_client_secret" => oauth::regenerate_secret,
        "get_integrations_types" => integrations::list_types,
        "get_integrations_type" => integrations::get_type,
        "get_integrations_type_configschema" => integrations::type_schema,
        "get_integrations" => integrations::list,
        "post_integrations" => integrations::create,
        "get_integration" => integrations::get,
        "patch_integration" => integrations::patch,
        "delete_integration" => integrations::delete,
        "get_integration_config_current" => integrations::get_config,
        "put_integration_config_current" => integrations::put_config,
        "get_integrations_credentials" => integrations::list_credentials,
        "post_integrations_credentials" => integrations::create_credential,
        "get_integrations_credential" => integrations::get_credential,
        "put_integrations_credential" => integrations::update_credential,
        "delete_integrations_credential" => integrations::delete_credential,
        "get_routing_queues" => queues::list,
        "post_routing_queues" => queues::create,
        "get_routing_queue" => queues::get,
        "put_routing_queue" => queues::update,
        "delete_routing_queue" => queues::delete,
        "get_routing_queue_members" => queues::members,
        "post_routing_queue_members" => queues::add_members,
        "patch_routing_queue_members" => queues::patch_members,
        "get_identityproviders" => idp::list,
        "post_identityproviders" => idp::create_custom,
        "get_identityproviders_pureengage"
        | "get_identityproviders_adfs"
        | "get_identityproviders_generic"
        | "get_identityproviders_okta" => idp::get,
        "put_identityproviders_pureengage"
        | "put_identityproviders_adfs"
        | "put_identityproviders_generic"
        | "put_identityproviders_okta" => idp::put,
        "delete_identityproviders_pureengage"
        | "delete_identityproviders_adfs"
        | "delete_identityproviders_generic"
        | "delete_identityproviders_okta" => idp::delete,
        "get_organizations_me" => org::get_org,
        "put_organizations_me" => org::put_org,
        "get_tokens_me" => org::token_me,
        "head_tokens_me" => org::head_token_me,
        "delete_tokens_me" => org::delete_token_me,
        "get_users" => users::list,
        "post_users" => users::create,
        "get_users_me" => users::me,
        "get_user" => users::get,
        "patch_user" => users::patch,
        "delete_user" => users::delete,
        "post_users_search" => users::search_post,
        "get_users_search" => users::search_get,
        "post_audits_query_realtime" => crate::audit::query_realtime,
        "post_audits_query" => crate::audit::query_async,
        "get_audits_query_servicemapping" => crate::audit::service_mapping,
        _ => return None,
    };
    Some(h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_contract_operation_has_a_handler() {
        for op in &crate::contract::contract().operations {
            assert!(
                super::handler(&op.operation).is_some(),
                "no handler for {} {} ({})",
                op.method,
                op.path,
                op.operation
            );
        }
    }
}
