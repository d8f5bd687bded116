//! The Genesys Cloud regions: AWS region name ⇄ public domain.
//!
//! A hand-maintained table of the published region list, which the
//! repository keeps in `crates/gcsim/contract/regions.json` (the
//! simulator's contract slice); the test below compares the two, so the
//! table cannot drift from that list unnoticed.

/// One Genesys Cloud region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Genesys' own name for the region (`prod-apse2`).
    pub name: &'static str,
    /// The AWS region name (`ap-southeast-2`).
    pub aws_region: &'static str,
    /// The public domain (`mypurecloud.com.au`).
    pub domain: &'static str,
}

impl Region {
    /// The Platform API base URL (`https://api.mypurecloud.com.au`).
    pub fn api_url(&self) -> String {
        format!("https://api.{}", self.domain)
    }

    /// The login base URL (`https://login.mypurecloud.com.au`).
    pub fn login_url(&self) -> String {
        format!("https://login.{}", self.domain)
    }
}

macro_rules! region {
    ($name:expr, $aws:expr, $domain:expr) => {
        Region {
            name: $name,
            aws_region: $aws,
            domain: $domain,
        }
    };
}

/// Every region, as in `regions.json`.
pub const REGIONS: &[Region] = &[
    region!("fedramp-use2-core", "us-east-2", "use2.us-gov-pure.cloud"),
    region!("prod", "us-east-1", "mypurecloud.com"),
    region!("prod-apne1", "ap-northeast-1", "mypurecloud.jp"),
    region!("prod-apne2", "ap-northeast-2", "apne2.pure.cloud"),
    region!("prod-apne3", "ap-northeast-3", "apne3.pure.cloud"),
    region!("prod-aps1", "ap-south-1", "aps1.pure.cloud"),
    region!("prod-apse1", "ap-southeast-1", "apse1.pure.cloud"),
    region!("prod-apse2", "ap-southeast-2", "mypurecloud.com.au"),
    region!("prod-cac1", "ca-central-1", "cac1.pure.cloud"),
    region!("prod-euc1", "eu-central-1", "mypurecloud.de"),
    region!("prod-euc2", "eu-central-2", "euc2.pure.cloud"),
    region!("prod-euw1", "eu-west-1", "mypurecloud.ie"),
    region!("prod-euw2", "eu-west-2", "euw2.pure.cloud"),
    region!("prod-mec1", "me-central-1", "mec1.pure.cloud"),
    region!("prod-mxc1", "mx-central-1", "mxc1.pure.cloud"),
    region!("prod-sae1", "sa-east-1", "sae1.pure.cloud"),
    region!("prod-usw2", "us-west-2", "usw2.pure.cloud"),
];

/// The region named by an AWS region name, a public domain or Genesys' own
/// region name, compared without regard to case.
pub fn find(name_or_domain: &str) -> Option<&'static Region> {
    let wanted = name_or_domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    REGIONS
        .iter()
        .find(|r| r.aws_region == wanted || r.domain == wanted || r.name == wanted)
}

/// The region whose public domain ends a host name (`api.mypurecloud.de`).
pub fn for_host(host: &str) -> Option<&'static Region> {
    let host = host.to_ascii_lowercase();
    REGIONS.iter().find(|r| {
        host == r.domain
            || host
                .strip_suffix(r.domain)
                .is_some_and(|prefix| prefix.ends_with('.'))
    })
}

/// The valid regions for an error message: one per line, sorted by AWS
/// region name, each with its domain.
pub fn valid_names() -> String {
    let mut names: Vec<String> = REGIONS
        .iter()
        .map(|r| format!("    {} ({})", r.aws_region, r.domain))
        .collect();
    names.sort();
    names.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table must match the published list kept in the repository.
    #[test]
    fn table_matches_regions_json() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../gcsim/contract/regions.json"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read the region list {path}: {e}"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut published: Vec<(String, String, String)> = json
            .as_array()
            .expect("regions.json is a list")
            .iter()
            .map(|r| {
                let field = |k: &str| r[k].as_str().unwrap().to_owned();
                (field("name"), field("region"), field("publicDomainName"))
            })
            .collect();
        let mut ours: Vec<(String, String, String)> = REGIONS
            .iter()
            .map(|r| {
                (
                    r.name.to_owned(),
                    r.aws_region.to_owned(),
                    r.domain.to_owned(),
                )
            })
            .collect();
        published.sort();
        ours.sort();
        assert_eq!(published.len(), 17, "{published:?}");
        assert_eq!(
            ours, published,
            "regions.rs is out of date with regions.json"
        );
    }

    #[test]
    fn lookups_by_name_domain_and_host() {
        assert_eq!(find("ap-southeast-2").unwrap().domain, "mypurecloud.com.au");
        assert_eq!(
            find("MyPureCloud.com.au").unwrap().aws_region,
            "ap-southeast-2"
        );
        assert_eq!(find("prod-euw2").unwrap().domain, "euw2.pure.cloud");
        assert!(find("mars-north-1").is_none());
        assert_eq!(
            for_host("api.mypurecloud.de").unwrap().aws_region,
            "eu-central-1"
        );
        // A suffix that is not a whole label does not match.
        assert!(for_host("api.notmypurecloud.com").is_none());
        assert_eq!(
            find("us-east-1").unwrap().api_url(),
            "https://api.mypurecloud.com"
        );
        assert_eq!(
            find("us-east-1").unwrap().login_url(),
            "https://login.mypurecloud.com"
        );
    }
}
