//! Tokens, callers and permission checks.
//!
//! A caller's effective grants are its own grants plus, for a user, the
//! grants of the groups it belongs to. A grant made after the caller's token
//! was issued only counts once `grant_delay` has passed since it was made
//! (tokens issued after the grant see it at once), for users and OAuth
//! clients alike. Permissions match with `*` wildcards per segment.

use crate::catalog::permission_matches;
use crate::error::{ApiError, ApiResult};
use crate::model::{Org, Subject, SubjectType, Token};
use crate::wire::random_token;
use std::time::{Duration, Instant, SystemTime};

/// Default access token lifetime (24 h), as Genesys applies when a client
/// sets no `accessTokenValiditySeconds`.
pub const DEFAULT_TOKEN_SECONDS: u64 = 86_400;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The bearer token.
    pub token: String,
    /// Who it acts for.
    pub subject: Subject,
    /// When the token was issued.
    pub issued_at: Instant,
    /// The OAuth client that issued it.
    pub client_id: Option<String>,
}

/// One grant as the caller sees it.
#[derive(Debug, Clone)]
pub struct EffectiveGrant {
    /// Role id.
    pub role_id: String,
    /// Division id or `*`.
    pub division_id: String,
    /// When it was made.
    pub made_at: SystemTime,
    /// The group it comes through, if inherited.
    pub via_group: Option<String>,
}

impl Org {
    /// Issues a token for a subject; returns it with its lifetime in seconds.
    pub fn issue_token(
        &mut self,
        subject: Subject,
        client_id: Option<String>,
        seconds: u64,
        now: Instant,
    ) -> (String, u64) {
        if self.tokens.len() > 50_000 {
            self.tokens.retain(|_, t| t.expires_at > now);
        }
        let token = random_token(86);
        self.tokens.insert(
            token.clone(),
            Token {
                subject,
                client_id,
                issued_at: now,
                expires_at: now + Duration::from_secs(seconds),
                issued_wall: SystemTime::now(),
            },
        );
        (token, seconds)
    }

    /// Resolves a bearer token to its caller; unknown, expired or orphaned
    /// tokens are a 401.
    pub fn authenticate(&self, token: &str, now: Instant) -> ApiResult<Caller> {
        let t = self.tokens.get(token).ok_or_else(ApiError::bad_token)?;
        if now >= t.expires_at {
            return Err(ApiError::bad_token());
        }
        match &t.subject {
            Subject::Client(id) => {
                let c = self.clients.get(id).ok_or_else(ApiError::bad_token)?;
                if c.state() == "disabled" {
                    return Err(ApiError::bad_token());
                }
            }
            Subject::User(id) => {
                let u = self.users.get(id).ok_or_else(ApiError::bad_token)?;
                if u.state != "active" {
                    return Err(ApiError::bad_token());
                }
            }
        }
        Ok(Caller {
            token: token.to_string(),
            subject: t.subject.clone(),
            issued_at: t.issued_at,
            client_id: t.client_id.clone(),
        })
    }

    /// The grants the caller's token effectively holds now.
    pub fn effective_grants(
        &self,
        caller: &Caller,
        now: Instant,
        delay: Duration,
    ) -> Vec<EffectiveGrant> {
        let visible =
            |at: Instant| at <= caller.issued_at || now.saturating_duration_since(at) >= delay;
        let mut out = Vec::new();
        let id = caller.subject.id();
        for g in self.grants_of(id) {
            if visible(g.granted_at) {
                out.push(EffectiveGrant {
                    role_id: g.role_id.clone(),
                    division_id: g.division_id.clone(),
                    made_at: g.made_at,
                    via_group: None,
                });
            }
        }
        if let Subject::User(uid) = &caller.subject {
            for (gid, sg) in &self.grants {
                if sg.subject_type != SubjectType::Group {
                    continue;
                }
                let Some(group) = self.groups.get(gid) else {
                    continue;
                };
                if !group.members.contains(uid) {
                    continue;
                }
                for g in &sg.grants {
                    if visible(g.granted_at) {
                        out.push(EffectiveGrant {
                            role_id: g.role_id.clone(),
                            division_id: g.division_id.clone(),
                            made_at: g.made_at,
                            via_group: Some(gid.clone()),
                        });
                    }
                }
            }
        }
        out
    }

    /// Whether the caller holds a permission (in any division).
    pub fn caller_has(&self, caller: &Caller, perm: &str, now: Instant, delay: Duration) -> bool {
        self.effective_grants(caller, now, delay)
            .iter()
            .filter_map(|g| self.roles.get(&g.role_id))
            .any(|r| {
                self.granted_permissions(r)
                    .any(|p| permission_matches(&p, perm))
            })
    }

    /// 403 unless the caller holds at least one of `perms`.
    pub fn require_any(
        &self,
        caller: &Caller,
        perms: &[&str],
        now: Instant,
        delay: Duration,
    ) -> ApiResult<()> {
        if perms.is_empty() {
            return Ok(());
        }
        let grants = self.effective_grants(caller, now, delay);
        let held = grants
            .iter()
            .filter_map(|g| self.roles.get(&g.role_id))
            .any(|r| {
                self.granted_permissions(r)
                    .any(|p| perms.iter().any(|need| permission_matches(&p, need)))
            });
        if held {
            Ok(())
        } else {
            Err(ApiError::missing_permissions(perms))
        }
    }

    /// Whether the caller holds `role_id` in `division_id` or in all divisions.
    pub fn caller_holds_role(
        &self,
        caller: &Caller,
        role_id: &str,
        division_id: &str,
        now: Instant,
        delay: Duration,
    ) -> bool {
        self.effective_grants(caller, now, delay)
            .iter()
            .any(|g| g.role_id == role_id && (g.division_id == division_id || g.division_id == "*"))
    }

    /// The sorted, deduplicated permissions of the caller's effective grants.
    pub fn effective_permissions(
        &self,
        caller: &Caller,
        now: Instant,
        delay: Duration,
    ) -> Vec<String> {
        let mut out: Vec<String> = self
            .effective_grants(caller, now, delay)
            .iter()
            .filter_map(|g| self.roles.get(&g.role_id))
            .flat_map(|r| self.granted_permissions(r))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}
