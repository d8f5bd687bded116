//! The organization (`data.org`) and its home division.
//!
//! `GET /api/v2/organizations/me` gives id, name and `thirdPartyOrgName`
//! (the short name). Region and domain come from the connection; with a
//! custom base URL (the simulator) they come from the organization's
//! `domain` when that is a known Genesys Cloud domain, and are empty
//! otherwise.

use gcrecon_core::provider::{GenesysId, Org, ProviderError};

use crate::http::Request;
use crate::regions;
use crate::wire::{id_of, str_field};
use crate::Ctx;

pub async fn org(ctx: &Ctx) -> Result<Org, ProviderError> {
    ctx.org
        .get_or_try_init(|| async {
            // One round trip, not two: the home division does not depend
            // on the organization's answer.
            let (wire, home) = tokio::join!(
                ctx.api.send(Request::get("/api/v2/organizations/me")),
                home_division(ctx)
            );
            let (wire, home) = (wire?, home?);
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
                home_division_id: home,
            })
        })
        .await
        .cloned()
}

/// The home division: flagged in the division listing (which the data
/// sources read anyway), else `GET /api/v2/authorization/divisions/home`.
pub async fn home_division(ctx: &Ctx) -> Result<GenesysId, ProviderError> {
    ctx.home
        .get_or_try_init(|| async {
            if let Some(id) = crate::data::home_division_listed(ctx).await? {
                return Ok(GenesysId(id));
            }
            let wire = ctx
                .api
                .send(Request::get("/api/v2/authorization/divisions/home"))
                .await?;
            id_of(&wire, "home division").map(GenesysId)
        })
        .await
        .cloned()
}
