//! [`Connection`]: where Genesys Cloud is and how to log in, from the
//! environment and command-line flags (the names of the Genesys Cloud
//! Terraform provider, so existing CI secrets work unchanged).
//!
//! | setting | flag | environment |
//! |---|---|---|
//! | OAuth client id / secret | — | `GENESYSCLOUD_OAUTHCLIENT_ID`, `GENESYSCLOUD_OAUTHCLIENT_SECRET` |
//! | access token (a user's) | — | `GENESYSCLOUD_ACCESS_TOKEN` |
//! | region | `--region` | `GENESYSCLOUD_REGION` |
//! | API base URL | `--api-url` | `GENESYSCLOUD_API_REGION` |
//!
//! Flags beat the environment; an API base URL beats a region of the same
//! source. With a base URL the login host is the same base URL (the
//! simulator serves both), except when the URL is a known Genesys API host
//! (`https://api.mypurecloud.de`): then the region is known and login goes to
//! `https://login.{domain}`. A region given together with a custom base URL
//! still names the org's region and domain (`data.org.region`) while the
//! requests go to the base URL: that is how a simulator stands in for an org
//! of a given region.

use gcrecon_core::Secret;

use crate::regions::{self, Region};

/// Environment variable names.
pub mod env {
    pub const CLIENT_ID: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
    pub const CLIENT_SECRET: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
    pub const ACCESS_TOKEN: &str = "GENESYSCLOUD_ACCESS_TOKEN";
    pub const REGION: &str = "GENESYSCLOUD_REGION";
    pub const API_REGION: &str = "GENESYSCLOUD_API_REGION";
}

/// How gcrecon proves who it is.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// OAuth client credentials grant: gcrecon logs in (and in again when
    /// the token nears expiry or a grant must take effect).
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// An existing access token, used as is (typically a user's).
    AccessToken(Secret),
}

/// Everything needed to reach one organization.
#[derive(Clone, Debug)]
pub struct Connection {
    pub credentials: Credentials,
    /// Platform API base URL without trailing slash (`https://api.mypurecloud.com.au`).
    pub api_url: String,
    /// Login base URL without trailing slash; `POST {login_url}/oauth/token`.
    pub login_url: String,
    /// AWS region name, or empty for a custom base URL.
    pub region: String,
    /// Public domain, or empty for a custom base URL.
    pub domain: String,
}

/// Why the connection settings are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("no Genesys Cloud credentials: set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, or GENESYSCLOUD_ACCESS_TOKEN")]
    NoCredentials,
    #[error("GENESYSCLOUD_OAUTHCLIENT_ID is set but GENESYSCLOUD_OAUTHCLIENT_SECRET is not (the secret is never accepted as a flag)")]
    MissingClientSecret,
    #[error("GENESYSCLOUD_OAUTHCLIENT_SECRET is set but GENESYSCLOUD_OAUTHCLIENT_ID is not")]
    MissingClientId,
    #[error("no Genesys Cloud region: give --region or GENESYSCLOUD_REGION (an AWS region name such as ap-southeast-2, or a domain such as mypurecloud.com.au), or --api-url / GENESYSCLOUD_API_REGION")]
    NoRegion,
    #[error("unknown Genesys Cloud region `{given}`; the valid regions are:\n{valid}")]
    UnknownRegion { given: String, valid: String },
    #[error("invalid API base URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
}

impl Connection {
    /// Settings from the process environment, overridden by the `--region`
    /// and `--api-url` flags when given.
    pub fn from_env_and_flags(
        region: Option<String>,
        api_url: Option<String>,
    ) -> Result<Connection, ConnectionError> {
        Self::from_lookup(region, api_url, |name| std::env::var(name).ok())
    }

    /// As [`Connection::from_env_and_flags`], reading variables through
    /// `lookup` (tests pass a map instead of the real environment).
    pub fn from_lookup(
        region: Option<String>,
        api_url: Option<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Connection, ConnectionError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let credentials = match (
            var(env::ACCESS_TOKEN),
            var(env::CLIENT_ID),
            lookup(env::CLIENT_SECRET),
        ) {
            (Some(token), _, _) => Credentials::AccessToken(Secret::new(token)),
            (None, Some(client_id), Some(secret)) if !secret.is_empty() => {
                Credentials::ClientCredentials {
                    client_id,
                    client_secret: Secret::new(secret),
                }
            }
            (None, Some(_), _) => return Err(ConnectionError::MissingClientSecret),
            (None, None, Some(secret)) if !secret.is_empty() => {
                return Err(ConnectionError::MissingClientId)
            }
            (None, None, _) => return Err(ConnectionError::NoCredentials),
        };
        let flag = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let region = flag(region);
        let api_url = flag(api_url);
        let endpoint = if let Some(url) = &api_url {
            Endpoint::from_url(url)?
        } else if let Some(region) = &region {
            Endpoint::from_region(region)?
        } else if let Some(url) = var(env::API_REGION) {
            Endpoint::from_url(&url)?
        } else if let Some(region) = var(env::REGION) {
            Endpoint::from_region(&region)?
        } else {
            return Err(ConnectionError::NoRegion);
        };
        // A custom base URL with a region: requests go to the URL, the
        // region still names where the org is.
        let endpoint = match (endpoint.region, region.or_else(|| var(env::REGION))) {
            (None, Some(name)) => Endpoint {
                region: Some(
                    Endpoint::from_region(&name)?
                        .region
                        .ok_or(ConnectionError::NoRegion)?,
                ),
                ..endpoint
            },
            _ => endpoint,
        };
        Ok(Connection {
            credentials,
            api_url: endpoint.api_url,
            login_url: endpoint.login_url,
            region: endpoint
                .region
                .map(|r| r.aws_region.to_owned())
                .unwrap_or_default(),
            domain: endpoint
                .region
                .map(|r| r.domain.to_owned())
                .unwrap_or_default(),
        })
    }

    /// A connection to a base URL with client credentials (tests, gcsim).
    pub fn with_client_credentials(
        api_url: &str,
        client_id: &str,
        client_secret: Secret,
    ) -> Result<Connection, ConnectionError> {
        let endpoint = Endpoint::from_url(api_url)?;
        Ok(Connection {
            credentials: Credentials::ClientCredentials {
                client_id: client_id.to_owned(),
                client_secret,
            },
            api_url: endpoint.api_url,
            login_url: endpoint.login_url,
            region: endpoint
                .region
                .map(|r| r.aws_region.to_owned())
                .unwrap_or_default(),
            domain: endpoint
                .region
                .map(|r| r.domain.to_owned())
                .unwrap_or_default(),
        })
    }

    /// A connection to a base URL with an existing access token.
    pub fn with_access_token(api_url: &str, token: Secret) -> Result<Connection, ConnectionError> {
        let endpoint = Endpoint::from_url(api_url)?;
        Ok(Connection {
            credentials: Credentials::AccessToken(token),
            api_url: endpoint.api_url,
            login_url: endpoint.login_url,
            region: endpoint
                .region
                .map(|r| r.aws_region.to_owned())
                .unwrap_or_default(),
            domain: endpoint
                .region
                .map(|r| r.domain.to_owned())
                .unwrap_or_default(),
        })
    }
}

struct Endpoint {
    api_url: String,
    login_url: String,
    region: Option<&'static Region>,
}

impl Endpoint {
    fn from_region(given: &str) -> Result<Endpoint, ConnectionError> {
        let region = regions::find(given).ok_or_else(|| ConnectionError::UnknownRegion {
            given: given.to_owned(),
            valid: regions::valid_names(),
        })?;
        Ok(Endpoint {
            api_url: region.api_url(),
            login_url: region.login_url(),
            region: Some(region),
        })
    }

    fn from_url(given: &str) -> Result<Endpoint, ConnectionError> {
        let invalid = |reason: &str| ConnectionError::InvalidUrl {
            url: given.to_owned(),
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(given).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        let host = url.host_str().ok_or_else(|| invalid("no host"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a base URL has no query or fragment"));
        }
        let base = given.trim().trim_end_matches('/').to_owned();
        // A real Genesys API host: the login host is login.{domain}, not the API host.
        if let Some(region) = host.strip_prefix("api.").and_then(regions::find) {
            return Ok(Endpoint {
                api_url: base,
                login_url: region.login_url(),
                region: Some(region),
            });
        }
        Ok(Endpoint {
            api_url: base.clone(),
            login_url: base,
            region: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn conn(
        vars: &[(&str, &str)],
        region: Option<&str>,
        url: Option<&str>,
    ) -> Result<Connection, ConnectionError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Connection::from_lookup(region.map(str::to_owned), url.map(str::to_owned), |k| {
            map.get(k).cloned()
        })
    }

    const CREDS: [(&str, &str); 2] = [(env::CLIENT_ID, "id"), (env::CLIENT_SECRET, "s3cret")];

    #[test]
    fn region_by_name_or_domain() {
        let c = conn(
            &[CREDS[0], CREDS[1], (env::REGION, "ap-southeast-2")],
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.api_url, "https://api.mypurecloud.com.au");
        assert_eq!(c.login_url, "https://login.mypurecloud.com.au");
        assert_eq!(
            (c.region.as_str(), c.domain.as_str()),
            ("ap-southeast-2", "mypurecloud.com.au")
        );
        let c = conn(&CREDS, Some("mypurecloud.de"), None).unwrap();
        assert_eq!(c.region, "eu-central-1");
        assert!(
            matches!(c.credentials, Credentials::ClientCredentials { ref client_id, .. } if client_id == "id")
        );
    }

    #[test]
    fn unknown_region_lists_the_valid_ones() {
        let err = conn(&CREDS, Some("mars-1"), None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("mars-1")
                && text.contains("ap-southeast-2")
                && text.contains("mypurecloud.ie"),
            "{text}"
        );
    }

    #[test]
    fn api_url_overrides_region_and_serves_login_too() {
        let c = conn(
            &[
                CREDS[0],
                CREDS[1],
                (env::REGION, "us-east-1"),
                (env::API_REGION, "http://127.0.0.1:8765/"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.api_url, "http://127.0.0.1:8765");
        assert_eq!(c.login_url, "http://127.0.0.1:8765");
        // The region still names the org's region.
        assert_eq!(
            (c.region.as_str(), c.domain.as_str()),
            ("us-east-1", "mypurecloud.com")
        );
        let c = conn(
            &[
                CREDS[0],
                CREDS[1],
                (env::API_REGION, "http://127.0.0.1:8765/"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.region, "");
        // The flag beats the environment.
        let c = conn(
            &[CREDS[0], CREDS[1], (env::API_REGION, "http://127.0.0.1:1")],
            None,
            Some("http://localhost:2"),
        )
        .unwrap();
        assert_eq!(c.api_url, "http://localhost:2");
        // A real API host keeps its region and login host.
        let c = conn(&CREDS, None, Some("https://api.mypurecloud.ie")).unwrap();
        assert_eq!(
            (c.login_url.as_str(), c.region.as_str()),
            ("https://login.mypurecloud.ie", "eu-west-1")
        );
        assert!(matches!(
            conn(&CREDS, None, Some("ftp://x")),
            Err(ConnectionError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn credentials_rules() {
        assert_eq!(
            conn(&[], Some("us-east-1"), None).unwrap_err(),
            ConnectionError::NoCredentials
        );
        assert_eq!(
            conn(&[CREDS[0]], Some("us-east-1"), None).unwrap_err(),
            ConnectionError::MissingClientSecret
        );
        assert_eq!(
            conn(&[CREDS[1]], Some("us-east-1"), None).unwrap_err(),
            ConnectionError::MissingClientId
        );
        assert_eq!(
            conn(&CREDS, None, None).unwrap_err(),
            ConnectionError::NoRegion
        );
        let c = conn(
            &[CREDS[0], CREDS[1], (env::ACCESS_TOKEN, "tok")],
            Some("us-east-1"),
            None,
        )
        .unwrap();
        assert!(matches!(c.credentials, Credentials::AccessToken(ref t) if t.expose() == "tok"));
        // The secret never shows in Debug output.
        assert!(
            !format!("{:?}", conn(&CREDS, Some("us-east-1"), None).unwrap()).contains("s3cret")
        );
    }
}
