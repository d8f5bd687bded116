//! The organization (`data.org`) and its home division.
//!
//! `GET /api/v2/organizations/me` gives id, name and `thirdPartyOrgName`
//! (the short name). Region and domain come from the connection; with a
//! custom base URL (the simulator) they come from the organization's
//! `domain` when that is a known Genesys Cloud domain, and are empty
//! otherwise.

use gcrecon_core::provider::{GenesysId, Org, ProviderError};
use serde_json::Value as Json;

use crate::http::Request;
use crate::regions;
use crate::wire::{id_of, str_field};
use crate::Ctx;

pub async fn org(ctx: &Ctx) -> Result<Org, ProviderError> {
    ctx.org
        .get_or_try_init(|| async {
            let wire = ctx
                .api
                .send(Request::get("/api/v2/organizations/me"))
                .await?;
            let (region, domain) = if ctx.connection.region.is_empty() {
                match str_field(&wire, "domain").and_then(regions::find) {
                    Some(r) => (r.aws_region.to_owned(), r.domain.to_owned()),
                    None => (String::new(), String::new()),
                }
            } else {
                (ctx.connection.region.clone(), ctx.connection.domain.clone())
            };
            Ok(Org {
                id: id_of(&wire, "organization")?,
                name: str_field(&wire, "name").unwrap_or_default().to_owned(),
                short_name: str_field(&wire, "thirdPartyOrgName")
                    .unwrap_or_default()
                    .to_owned(),
                region,
                domain,
                api_url: ctx.connection.api_url.clone(),
                login_url: ctx.connection.login_url.clone(),
            })
        })
        .await
        .cloned()
}

/// The home division's id (see [`home_division_entry`]).
pub async fn home_division(ctx: &Ctx) -> Result<GenesysId, ProviderError> {
    id_of(home_division_entry(ctx).await?, "home division").map(GenesysId::from)
}

/// The home division, read once: from the division listing when the data
/// sources have read it whole (it flags `homeDivision`), else
/// `GET /api/v2/authorization/divisions/home`. One call at most, and none
/// when the listing is at hand; it needs no other answer first, so it goes
/// out alongside whatever else the caller reads.
pub(crate) async fn home_division_entry(ctx: &Ctx) -> Result<&Json, ProviderError> {
    ctx.home
        .get_or_try_init(|| async {
            if let Some(listed) = crate::data::home_division_listed(ctx).await {
                return Ok(listed);
            }
            ctx.api
                .send(Request::get("/api/v2/authorization/divisions/home"))
                .await
        })
        .await
}
