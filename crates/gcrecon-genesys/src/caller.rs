//! The caller behind the token (`data.caller`), its grants, and granting
//! roles to itself.
//!
//! Who: with client credentials the caller is that OAuth client, named by
//! `GET /api/v2/authorization/subjects/me` (an `AuthzSubject`: its `name`),
//! the answer the caller's grants are read from next, so that one call
//! serves both (`tokens/me` only when the subject has no name). With a
//! given access token, `GET /api/v2/users/me` names the user behind it; a
//! client's token has none (400), and `GET /api/v2/tokens/me` names the
//! client (`OAuthClient`). Grants come from
//! `GET /api/v2/authorization/subjects/me` (both caller kinds), with
//! `GET /api/v2/users/me?expand=authorization` as a fallback for users.
//!
//! Granting to itself is `POST /authorization/subjects/{id}/bulkadd`; the
//! grant must then take effect for the credentials in use: a client-
//! credentials caller logs in again (a fresh token sees the grant), any other
//! caller polls `subjects/me` with back-off for a bounded time.

use std::collections::BTreeSet;
use std::time::Duration;

use gcrecon_core::provider::{Caller, CallerKind, GenesysId, ProviderError, RoleDivision};
use serde_json::{json, Value as Json};
use tokio::time::Instant;

use crate::http::{is_not_found, Request};
use crate::wire::{id_of, str_field, strings_field};
use crate::Ctx;

const TOKEN_ME: &str = "/api/v2/tokens/me";
const USERS_ME: &str = "/api/v2/users/me";
const SUBJECTS_ME: &str = "/api/v2/authorization/subjects/me";
const BULK_ADD: &str = "/api/v2/authorization/subjects/{subjectId}/bulkadd";
const REVOKE_ONE: &str =
    "/api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}";

/// Removes one grant of a subject; a grant already gone (404) is done.
pub async fn revoke_one(
    ctx: &Ctx,
    subject: &str,
    grant: &RoleDivision,
) -> Result<(), ProviderError> {
    ctx.api
        .delete_if_present(
            Request::delete(REVOKE_ONE)
                .param("subjectId", subject)
                .param("divisionId", grant.division_id.as_str())
                .param("roleId", grant.role_id.as_str()),
        )
        .await
}

/// Who the caller is; fixed for the life of the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub kind: CallerKind,
    pub id: GenesysId,
    pub name: String,
}

/// The `OAuthClient` of a token description (the contract spells it
/// `OAuthClient`; some answers use `oAuthClient`).
fn token_client(token: &Json) -> Option<&Json> {
    token
        .get("OAuthClient")
        .or_else(|| token.get("oAuthClient"))
}

pub async fn identity(ctx: &Ctx) -> Result<Identity, ProviderError> {
    ctx.identity
        .get_or_try_init(|| async {
            if let Some(client_id) = ctx.api.client_id() {
                let subject = ctx.api.send(Request::get(SUBJECTS_ME)).await?;
                let name = match str_field(&subject, "name").filter(|n| !n.is_empty()) {
                    Some(name) => name.to_owned(),
                    None => {
                        let token = ctx.api.send(Request::get(TOKEN_ME)).await?;
                        token_client(&token)
                            .and_then(|c| str_field(c, "name"))
                            .unwrap_or(client_id)
                            .to_owned()
                    }
                };
                *ctx.subject_me
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(subject);
                return Ok(Identity {
                    kind: CallerKind::Client,
                    id: GenesysId::from(client_id),
                    name,
                });
            }
            // A given token: `users/me` names the user behind it; a client's
            // token has none (400 or 404), and `tokens/me` names the client.
            match ctx.api.send(Request::get(USERS_ME)).await {
                Ok(user) => Ok(Identity {
                    kind: CallerKind::User,
                    id: GenesysId::from(id_of(&user, "user")?),
                    name: str_field(&user, "name").unwrap_or_default().to_owned(),
                }),
                Err(ProviderError::Api {
                    status: 400 | 404, ..
                }) => {
                    let token = ctx.api.send(Request::get(TOKEN_ME)).await?;
                    token_client(&token)
                        .and_then(|c| {
                            Some(Identity {
                                kind: CallerKind::Client,
                                id: GenesysId::from(str_field(c, "id")?),
                                name: str_field(c, "name").unwrap_or_default().to_owned(),
                            })
                        })
                        .ok_or_else(|| ProviderError::Auth("the token names no caller".into()))
                }
                Err(e) => Err(e),
            }
        })
        .await
        .cloned()
}

/// Grants and permissions from an `AuthzSubject`; roles whose policies the
/// answer leaves out are returned in the third element.
fn grants_of_subject(
    subject: &Json,
) -> (BTreeSet<RoleDivision>, BTreeSet<String>, BTreeSet<String>) {
    let mut grants = BTreeSet::new();
    let mut permissions = BTreeSet::new();
    let mut without_policies = BTreeSet::new();
    for g in subject
        .get("grants")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let role = g.get("role");
        let (Some(role_id), Some(division_id)) = (
            role.and_then(|r| str_field(r, "id")),
            g.get("division").and_then(|d| str_field(d, "id")),
        ) else {
            continue;
        };
        grants.insert(RoleDivision {
            role_id: GenesysId::from(role_id),
            division_id: GenesysId::from(division_id),
        });
        match role
            .and_then(|r| r.get("policies"))
            .and_then(Json::as_array)
        {
            Some(policies) => {
                for p in policies {
                    let (Some(domain), Some(entity)) =
                        (str_field(p, "domain"), str_field(p, "entityName"))
                    else {
                        continue;
                    };
                    for action in strings_field(p, "actions") {
                        permissions.insert(format!("{domain}:{entity}:{action}"));
                    }
                }
            }
            None => {
                without_policies.insert(role_id.to_owned());
            }
        }
    }
    (grants, permissions, without_policies)
}

/// The caller's grants and permissions, as the service sees them now (the
/// answer [`identity`] just read, once, else a new read).
async fn current_grants(
    ctx: &Ctx,
    who: &Identity,
) -> Result<(BTreeSet<RoleDivision>, BTreeSet<String>), ProviderError> {
    let kept = ctx
        .subject_me
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let answer = match kept {
        Some(subject) => Ok(subject),
        None => ctx.api.send(Request::get(SUBJECTS_ME)).await,
    };
    match answer {
        Ok(subject) => {
            let (grants, mut permissions, missing) = grants_of_subject(&subject);
            if !missing.is_empty() {
                let ids: Vec<String> = missing.into_iter().collect();
                for chunk in ids.chunks(100) {
                    let roles = ctx
                        .api
                        .list_all(
                            Request::get(crate::role::SPEC.list).query_list("id", chunk),
                            100,
                        )
                        .await?;
                    for r in &roles {
                        permissions.extend(crate::role::permissions_of(r)?);
                    }
                }
            }
            Ok((grants, permissions))
        }
        Err(e) if is_not_found(&e) && who.kind == CallerKind::User => {
            let user = ctx
                .api
                .send(Request::get(USERS_ME).query("expand", "authorization"))
                .await?;
            let auth = user.get("authorization").cloned().unwrap_or(Json::Null);
            let permissions = strings_field(&auth, "permissions").into_iter().collect();
            // `UserAuthorization.roles` has no divisions: report them in the home division.
            let home = ctx.home_division().await?;
            let grants = auth
                .get("roles")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| str_field(r, "id"))
                .map(|id| RoleDivision {
                    role_id: GenesysId::from(id),
                    division_id: home.clone(),
                })
                .collect();
            Ok((grants, permissions))
        }
        Err(e) => Err(e),
    }
}

pub async fn caller(ctx: &Ctx) -> Result<Caller, ProviderError> {
    let who = identity(ctx).await?;
    let (grants, permissions) = current_grants(ctx, &who).await?;
    Ok(Caller {
        kind: who.kind,
        id: who.id,
        name: who.name,
        grants,
        permissions,
    })
}

fn subject_type(kind: CallerKind) -> &'static str {
    match kind {
        CallerKind::User => "PC_USER",
        CallerKind::Client => "PC_OAUTH_CLIENT",
    }
}

fn grants_body(grants: &[RoleDivision]) -> Json {
    let grants: Vec<Json> = grants
        .iter()
        .map(|g| json!({"roleId": g.role_id.as_str(), "divisionId": g.division_id.as_str()}))
        .collect();
    json!({ "grants": grants })
}

/// True when `held` covers `wanted` (a grant in `*` covers every division).
pub fn covered(held: &BTreeSet<RoleDivision>, wanted: &[RoleDivision]) -> bool {
    wanted.iter().all(|w| {
        held.contains(w)
            || held.contains(&RoleDivision {
                role_id: w.role_id.clone(),
                division_id: GenesysId::from("*"),
            })
    })
}

pub async fn grant_to_caller(ctx: &Ctx, grants: &[RoleDivision]) -> Result<(), ProviderError> {
    if grants.is_empty() {
        return Ok(());
    }
    let who = identity(ctx).await?;
    let request = Request::post(BULK_ADD)
        // Idempotent in effect: grants are a set; adding one held is a no-op.
        .idempotent()
        .param("subjectId", who.id.as_str())
        .query("subjectType", subject_type(who.kind))
        .json(grants_body(grants));
    // A role or division created moments ago is unknown to the
    // authorization service for a while: 404 until then.
    crate::retry::while_authz_lags(|| ctx.api.send(request.clone())).await?;
    if ctx.api.uses_client_credentials() {
        // A token issued after the grant holds it at once.
        return ctx.api.force_new_token().await;
    }
    // Someone else's token: wait until the service shows the grant.
    let deadline = Instant::now() + ctx.options.grant_wait;
    let mut delay = Duration::from_millis(100);
    loop {
        let (held, _) = current_grants(ctx, &who).await?;
        if covered(&held, grants) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ProviderError::Transport(format!(
                "the roles granted to the caller {} did not take effect within {} seconds",
                who.id,
                ctx.options.grant_wait.as_secs()
            )));
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

pub async fn revoke_from_caller(ctx: &Ctx, grants: &[RoleDivision]) -> Result<(), ProviderError> {
    if grants.is_empty() {
        return Ok(());
    }
    let who = identity(ctx).await?;
    // One grant at a time: `bulkremove` fails whole when any role or
    // division it names is gone, and a 404 here means already removed.
    for g in grants {
        revoke_one(ctx, who.id.as_str(), g).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(r: &str, d: &str) -> RoleDivision {
        RoleDivision {
            role_id: GenesysId::from(r),
            division_id: GenesysId::from(d),
        }
    }

    #[test]
    fn subject_grants_and_permissions() {
        let subject = json!({"id": "me", "grants": [
            {"role": {"id": "r1", "policies": [{"domain": "routing", "entityName": "queue", "actions": ["view", "edit"]}]}, "division": {"id": "d1"}},
            {"role": {"id": "r2"}, "division": {"id": "*"}},
        ]});
        let (grants, perms, missing) = grants_of_subject(&subject);
        assert_eq!(grants, BTreeSet::from([rd("r1", "d1"), rd("r2", "*")]));
        assert_eq!(
            perms,
            BTreeSet::from([
                "routing:queue:edit".to_owned(),
                "routing:queue:view".to_owned()
            ])
        );
        assert_eq!(missing, BTreeSet::from(["r2".to_owned()]));
        assert!(covered(&grants, &[rd("r2", "d7"), rd("r1", "d1")]));
        assert!(!covered(&grants, &[rd("r1", "d2")]));
    }
}
