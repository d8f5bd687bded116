//! `oauth_client`: OAuth clients. The object id is the client id.
//!
//! | manifest | wire (`OAuthClient` / `OAuthClientRequest`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//! | `grant_type` | `authorizedGrantType` (see [`grant_type_to_wire`]) |
//! | `roles` (`[{role, divisions}]`) | `roleDivisions` (`[{roleId, divisionId}]`, grouped by role) |
//! | `redirect_uris` | `registeredRedirectUri` |
//! | `scopes` | `scope` |
//! | `token_ttl_seconds` | `accessTokenValiditySeconds` |
//! | `state` | `state` |
//!
//! The secret comes back only from create and from `POST .../secret`; it
//! goes to [`Created::secret`] and never into attributes. A client must be
//! made `inactive` before the service lets it be deleted.
//! `GET /api/v2/oauth/clients` takes no parameters and answers every client
//! at once, so every refresh is that one call.

use std::collections::{BTreeMap, BTreeSet};

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::VecMap;
use gcrecon_core::{Kind, Secret};
use serde_json::{json, Map, Value as Json};

use crate::http::{for_each_bounded, is_not_found, Request};
use crate::kinds::{kind_ops_from_functions, ListEndpoint, Update};
use crate::recover;
use crate::wire::{
    fingerprint, id_of, malformed, str_field, string_set, strings_field, AttrReader,
};
use crate::Ctx;

const ALL: &str = "/api/v2/oauth/clients";
const ONE: &str = "/api/v2/oauth/clients/{clientId}";
const SECRET: &str = "/api/v2/oauth/clients/{clientId}/secret";

/// OAuth clients: one unpaged listing, a secret on create, and a delete
/// that deactivates first; no REST default fits.
pub struct OauthClient;

kind_ops_from_functions!(
    OauthClient,
    Kind::OauthClient,
    Some(ListEndpoint {
        kind: Kind::OauthClient.as_str(),
        path: ALL,
        page_size: None,
    }),
    Some("OAuthClient")
);

/// Manifest grant type → `authorizedGrantType`.
pub fn grant_type_to_wire(grant_type: &str) -> Result<&'static str, ProviderError> {
    Ok(match grant_type {
        "client_credentials" => "CLIENT-CREDENTIALS",
        "code" => "CODE",
        "implicit" => "TOKEN",
        "saml2_bearer" => "SAML2-BEARER",
        "password" => "PASSWORD",
        other => {
            return Err(ProviderError::Invalid(format!(
                "oauth_client `grant_type` `{other}` is not one of client_credentials, code, implicit, saml2_bearer, password"
            )))
        }
    })
}

/// `authorizedGrantType` → manifest grant type (an unknown one, lower-cased).
pub fn grant_type_from_wire(wire: &str) -> String {
    match wire {
        "CLIENT-CREDENTIALS" => "client_credentials".into(),
        "CODE" => "code".into(),
        "TOKEN" => "implicit".into(),
        "SAML2-BEARER" => "saml2_bearer".into(),
        "PASSWORD" => "password".into(),
        other => other.to_ascii_lowercase().replace('-', "_"),
    }
}

/// `roleDivisions` → `[{role, divisions}]`, sorted by role, divisions sorted.
pub fn roles_from_wire(wire: &Json) -> Value {
    let mut by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rd in wire
        .get("roleDivisions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(role), Some(division)) = (str_field(rd, "roleId"), str_field(rd, "divisionId"))
        {
            by_role
                .entry(role.to_owned())
                .or_default()
                .insert(division.to_owned());
        }
    }
    Value::List(
        by_role
            .into_iter()
            .map(|(role, divisions)| {
                Value::Map(VecMap::from([
                    ("role".to_owned(), Value::from(role)),
                    ("divisions".to_owned(), Value::strings(divisions)),
                ]))
            })
            .collect(),
    )
}

/// `[{role, divisions}]` → `roleDivisions`; a role without `divisions` is
/// granted in `home` (the home division).
pub fn roles_to_wire(roles: &Value, home: Option<&str>) -> Result<Vec<Json>, ProviderError> {
    let invalid = |what: &str| ProviderError::Invalid(format!("oauth_client `roles`: {what}"));
    let items = roles
        .as_list()
        .ok_or_else(|| invalid("must be a list of { role, divisions } tables"))?;
    let mut pairs = BTreeSet::new();
    for item in items {
        if !item.is_known() {
            return Err(invalid("not known yet (known only after apply)"));
        }
        let map = item
            .as_map()
            .ok_or_else(|| invalid("each entry is a { role, divisions } table"))?;
        let role = map
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("an entry lacks `role`"))?;
        let divisions: Vec<String> = match map.get("divisions") {
            None | Some(Value::Null) => vec![home
                .ok_or_else(|| invalid("an entry lacks `divisions`"))?
                .to_owned()],
            Some(Value::List(list)) => list
                .iter()
                .map(|d| {
                    d.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| invalid("`divisions` holds division ids"))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => vec![s.clone()],
            Some(_) => return Err(invalid("`divisions` is a list of division ids")),
        };
        for d in divisions {
            pairs.insert((role.to_owned(), d));
        }
    }
    Ok(pairs
        .into_iter()
        .map(|(role_id, division_id)| json!({"roleId": role_id, "divisionId": division_id}))
        .collect())
}

/// True when some role entry leaves out `divisions` (the home division is then needed).
fn needs_home(desired: &Attrs) -> bool {
    desired
        .get("roles")
        .and_then(Value::as_list)
        .is_some_and(|l| {
            l.iter()
                .any(|i| i.as_map().is_some_and(|m| !m.contains_key("divisions")))
        })
}

/// Wire → live object.
pub fn to_live(wire: &Json) -> Result<LiveObject, ProviderError> {
    let id = id_of(wire, "oauth client")?;
    let name = str_field(wire, "name").unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    if let Some(d) = str_field(wire, "description") {
        attrs.insert("description".into(), Value::from(d));
    }
    if let Some(g) = str_field(wire, "authorizedGrantType") {
        attrs.insert("grant_type".into(), Value::from(grant_type_from_wire(g)));
    }
    attrs.insert("roles".into(), roles_from_wire(wire));
    attrs.insert(
        "redirect_uris".into(),
        string_set(strings_field(wire, "registeredRedirectUri")),
    );
    attrs.insert("scopes".into(), string_set(strings_field(wire, "scope")));
    if let Some(ttl) = wire
        .get("accessTokenValiditySeconds")
        .and_then(Json::as_i64)
    {
        attrs.insert("token_ttl_seconds".into(), Value::from(ttl));
    }
    attrs.insert(
        "state".into(),
        Value::from(str_field(wire, "state").unwrap_or("active")),
    );
    Ok(LiveObject {
        kind: Kind::OauthClient,
        id: GenesysId::from(id),
        name,
        version: fingerprint(&attrs),
        attrs,
        builtin: false,
    })
}

/// Manifest attributes → `OAuthClientRequest`.
pub fn to_wire(attrs: &Attrs, home: Option<&str>) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::OauthClient, attrs);
    let mut body = Map::new();
    body.insert("name".into(), json!(r.required_string("name")?));
    if let Some(d) = r.string("description")? {
        body.insert("description".into(), json!(d));
    }
    let grant = grant_type_to_wire(&r.required_string("grant_type")?)?;
    body.insert("authorizedGrantType".into(), json!(grant));
    if let Some(roles) = attrs.get("roles").filter(|v| !matches!(v, Value::Null)) {
        body.insert(
            "roleDivisions".into(),
            Json::Array(roles_to_wire(roles, home)?),
        );
    }
    if let Some(uris) = r.strings("redirect_uris")? {
        body.insert("registeredRedirectUri".into(), json!(uris));
    }
    if let Some(scopes) = r.strings("scopes")? {
        body.insert("scope".into(), json!(scopes));
    }
    if let Some(ttl) = r.integer("token_ttl_seconds")? {
        body.insert("accessTokenValiditySeconds".into(), json!(ttl));
    }
    if let Some(state) = r.string("state")? {
        body.insert("state".into(), json!(state));
    }
    Ok(Json::Object(body))
}

async fn home_if_needed(ctx: &Ctx, attrs: &Attrs) -> Result<Option<String>, ProviderError> {
    if needs_home(attrs) {
        Ok(Some(ctx.home_division().await?.0.to_string()))
    } else {
        Ok(None)
    }
}

async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    // One call lists every client, whatever the scope.
    let body = ctx.api.send(Request::get(ALL)).await?;
    let entities = body
        .get("entities")
        .and_then(Json::as_array)
        .ok_or_else(|| malformed("an OAuth client listing without `entities`"))?;
    // A client deleted moments ago may still be listed, `state: "deleted"`.
    let mut objects: Vec<LiveObject> = entities
        .iter()
        .filter(|e| !crate::wire::is_deleted(e))
        .map(to_live)
        .collect::<Result<_, _>>()?;
    let (ids, names) = match scope {
        ListScope::All => {
            return Ok(Listing {
                objects,
                complete: true,
            })
        }
        ListScope::Only { ids, names } => (ids, names),
    };
    let names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    objects.retain(|o| ids.contains(&o.id) || names.contains(o.name.as_str()));
    // A listing may lag behind a create: confirm missing ids one by one.
    let missing: Vec<GenesysId> = ids
        .iter()
        .filter(|id| !objects.iter().any(|o| &o.id == *id))
        .cloned()
        .collect();
    let confirmed = for_each_bounded(missing, ctx.api.concurrency(), |id| async move {
        read(ctx, &id).await
    })
    .await?;
    objects.extend(confirmed.into_iter().flatten());
    Ok(Listing {
        objects,
        complete: false,
    })
}

async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    ctx.api
        .send_opt(Request::get(ONE).param("clientId", id.as_str()))
        .await?
        .as_ref()
        .map(to_live)
        .transpose()
}

/// The clients named exactly `name` (client names are not unique; the
/// listing is one call answering every client, with `dateCreated`).
async fn find_by_name(ctx: &Ctx, name: &str) -> Result<Vec<Json>, ProviderError> {
    let body = ctx.api.send(Request::get(ALL)).await?;
    Ok(body
        .get("entities")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|c| str_field(c, "name") == Some(name))
        .cloned()
        .collect())
}

/// A POST; after a lost answer the client is looked up by name (one
/// listing call; only one created since the attempt began counts) before
/// it is sent again.
async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let home = home_if_needed(ctx, desired).await?;
    let body = to_wire(desired, home.as_deref())?;
    let name = str_field(&body, "name").unwrap_or_default().to_owned();
    let request = Request::post(ALL).json(body);
    let posted = recover::create(&ctx.api, &request, "oauth client", &name, || {
        find_by_name(ctx, &name)
    })
    .await?;
    let found = posted.was_found();
    let wire = posted.into_wire();
    let object = to_live(&wire)?;
    let secret = if found {
        // The secret came only in the answer that was lost, and the service
        // never shows it again: generate a new one so that it can still be
        // delivered (the lost one is thereby revoked, unused).
        Some(rotate_secret(ctx, &object.id).await?)
    } else {
        str_field(&wire, "secret")
            .filter(|s| !s.is_empty())
            .map(Secret::new)
    };
    Ok(Created { object, secret })
}

/// Live attributes overlaid with the desired ones: a PUT replaces the
/// client, so keys the manifest leaves out keep their live values.
fn merged(live: &Attrs, desired: &Attrs) -> Attrs {
    let mut merged = live.clone();
    merged.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// A `PUT` of the whole client, keys the manifest leaves out as they are.
async fn update(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let (live, desired) = (update.live, update.desired);
    let attrs = merged(&live.attrs, desired);
    let home = home_if_needed(ctx, &attrs).await?;
    let wire = ctx
        .api
        .send(
            Request::put(ONE)
                .param("clientId", live.id.as_str())
                .json(to_wire(&attrs, home.as_deref())?),
        )
        .await
        .map_err(|e| ctx.gone(e, Kind::OauthClient, &live.id))?;
    to_live(&wire)
}

async fn delete(ctx: &Ctx, id: &GenesysId, _previous: Option<&Attrs>) -> Result<(), ProviderError> {
    let Some(live) = read(ctx, id).await? else {
        return Ok(());
    };
    // The service deletes only inactive clients.
    if live.attrs.get("state").and_then(Value::as_str) != Some("inactive") {
        let mut attrs = live.attrs.clone();
        attrs.insert("state".into(), Value::from("inactive"));
        match ctx
            .api
            .send(
                Request::put(ONE)
                    .param("clientId", id.as_str())
                    .json(to_wire(&attrs, None)?),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    ctx.api
        .delete_if_present(Request::delete(ONE).param("clientId", id.as_str()))
        .await
}

pub async fn rotate_secret(ctx: &Ctx, id: &GenesysId) -> Result<Secret, ProviderError> {
    // Idempotent in effect: each call replaces the secret, so after a lost
    // answer the resend's secret is the one in force.
    let wire = ctx
        .api
        .send(
            Request::post(SECRET)
                .param("clientId", id.as_str())
                .idempotent(),
        )
        .await
        .map_err(|e| ctx.gone(e, Kind::OauthClient, id))?;
    str_field(&wire, "secret")
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .ok_or_else(|| malformed("a regenerated client without `secret`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_map_both_ways() {
        for g in gcrecon_core::schema::GRANT_TYPES {
            assert_eq!(grant_type_from_wire(grant_type_to_wire(g).unwrap()), *g);
        }
        assert_eq!(grant_type_to_wire("implicit").unwrap(), "TOKEN");
        assert!(grant_type_to_wire("magic").is_err());
    }

    #[test]
    fn roles_group_by_role_and_back() {
        let wire = json!({
            "id": "c1", "name": "sso", "authorizedGrantType": "CLIENT-CREDENTIALS", "state": "active",
            "secret": "never-in-attrs",
            "roleDivisions": [
                {"roleId": "r2", "divisionId": "*"},
                {"roleId": "r1", "divisionId": "d2"},
                {"roleId": "r1", "divisionId": "d1"},
            ],
            "accessTokenValiditySeconds": 3600,
        });
        let live = to_live(&wire).unwrap();
        assert!(!format!("{:?}", live.attrs).contains("never-in-attrs"));
        let roles = &live.attrs["roles"];
        assert_eq!(
            roles.to_json().unwrap(),
            json!([{"role": "r1", "divisions": ["d1", "d2"]}, {"role": "r2", "divisions": ["*"]}])
        );
        let body = to_wire(&live.attrs, None).unwrap();
        assert_eq!(body["authorizedGrantType"], json!("CLIENT-CREDENTIALS"));
        assert_eq!(body["accessTokenValiditySeconds"], json!(3600));
        assert_eq!(
            body["roleDivisions"],
            json!([{"roleId": "r1", "divisionId": "d1"}, {"roleId": "r1", "divisionId": "d2"}, {"roleId": "r2", "divisionId": "*"}])
        );
    }

    #[test]
    fn a_role_without_divisions_goes_to_home() {
        let roles = Value::from_json(&json!([{"role": "r1"}]));
        assert_eq!(
            roles_to_wire(&roles, Some("home")).unwrap(),
            vec![json!({"roleId": "r1", "divisionId": "home"})]
        );
        assert!(roles_to_wire(&roles, None).is_err());
        let mut attrs = Attrs::new();
        attrs.insert("roles".into(), roles);
        assert!(needs_home(&attrs));
    }
}
