//! Query parameters and paging, as the official SDKs send and read them.
//!
//! List-valued parameters arrive comma-joined (`id=a%2Cb`) or repeated
//! (`id=a&id=b`); both are accepted. Listings page like the real API:
//! `entities`, `pageSize`, `pageNumber`, `total`, `pageCount`, and the
//! `firstUri`/`selfUri`/`lastUri`/`nextUri`/`previousUri` links (`nextUri`
//! absent on the last page, `previousUri` absent on the first).

use crate::error::{ApiError, ApiResult};
use serde_json::{json, Map, Value};

/// Default page size of every listing.
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// Maximum page size of most listings.
pub const MAX_PAGE_SIZE: usize = 100;
/// Maximum `pageSize` of `GET /api/v2/users`.
pub const MAX_USER_PAGE_SIZE: usize = 500;
/// Maximum page size of the groups listing.
pub const MAX_GROUP_PAGE_SIZE: usize = 500;

/// Parsed query string: ordered (name, value) pairs.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (`None` → empty).
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// All values of a list parameter, repeated and/or comma-joined.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// An integer parameter; a non-integer is a 400.
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(
                    name,
                    format!("Query parameter {name} must be an integer, got \"{v}\""),
                )
            }),
        }
    }

    /// A boolean parameter (`true`/`false`); anything else is a 400.
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(
                name,
                format!("Query parameter {name} must be true or false, got \"{v}\""),
            )),
        }
    }

    /// Whether `expand` (list) names `what`.
    pub fn expands(&self, what: &str) -> bool {
        self.list("expand").iter().any(|e| e == what)
    }

    /// The query string without the paging parameters, for links.
    fn without_paging(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if k != "pageSize" && k != "pageNumber" {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }

    /// Validated `(pageSize, pageNumber)`: defaults 25 and 1; `pageSize`
    /// above `max` or below 1, or `pageNumber` below 1, is a 400.
    pub fn paging(&self, max: usize) -> ApiResult<(usize, usize)> {
        let size = self.int("pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE as i64);
        let number = self.int("pageNumber")?.unwrap_or(1);
        if size < 1 || size as usize > max {
            return Err(ApiError::invalid(
                "pageSize",
                format!("Invalid pageSize {size}: the page size must be between 1 and {max}"),
            )
            .param("max", max as u64));
        }
        if number < 1 {
            return Err(ApiError::invalid(
                "pageNumber",
                format!("Invalid pageNumber {number}: page numbers start at 1"),
            ));
        }
        Ok((size as usize, number as usize))
    }
}

/// One page of a listing, with the real API's links.
pub fn page_of<T>(
    path: &str,
    query: &Query,
    max: usize,
    items: Vec<T>,
    mut render: impl FnMut(T) -> Value,
) -> ApiResult<Value> {
    let (size, number) = query.paging(max)?;
    let total = items.len();
    let entities: Vec<Value> = items
        .into_iter()
        .skip((number - 1).saturating_mul(size))
        .take(size)
        .map(&mut render)
        .collect();
    Ok(listing(path, query, size, number, total, entities))
}

/// The listing envelope for an already-cut page.
pub fn listing(
    path: &str,
    query: &Query,
    size: usize,
    number: usize,
    total: usize,
    entities: Vec<Value>,
) -> Value {
    let page_count = total.div_ceil(size);
    let rest = query.without_paging();
    let link = |n: usize| {
        if rest.is_empty() {
            format!("{path}?pageSize={size}&pageNumber={n}")
        } else {
            format!("{path}?pageSize={size}&pageNumber={n}&{rest}")
        }
    };
    let mut m = Map::new();
    m.insert("entities".into(), Value::Array(entities));
    m.insert("pageSize".into(), json!(size));
    m.insert("pageNumber".into(), json!(number));
    m.insert("total".into(), json!(total));
    m.insert("firstUri".into(), json!(link(1)));
    m.insert("selfUri".into(), json!(link(number)));
    if number < page_count {
        m.insert("nextUri".into(), json!(link(number + 1)));
    }
    if number > 1 {
        m.insert("previousUri".into(), json!(link(number - 1)));
    }
    m.insert("lastUri".into(), json!(link(page_count.max(1))));
    m.insert("pageCount".into(), json!(page_count));
    Value::Object(m)
}

/// A listing of everything on one page (`GET /api/v2/oauth/clients`,
/// `GET /api/v2/identityproviders`): no paging parameters.
pub fn single_page(path: &str, entities: Vec<Value>) -> Value {
    let total = entities.len();
    let mut m = Map::new();
    m.insert("entities".into(), Value::Array(entities));
    let rest = json!({
        "pageSize": total.max(1),
        "pageNumber": 1,
        "total": total,
        "firstUri": format!("{path}?pageSize={}&pageNumber=1", total.max(1)),
        "selfUri": format!("{path}?pageSize={}&pageNumber=1", total.max(1)),
        "lastUri": format!("{path}?pageSize={}&pageNumber=1", total.max(1)),
        "pageCount": 1,
    });
    if let Value::Object(r) = rest {
        m.extend(r);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_both_forms() {
        let q = Query::parse(Some("id=a%2Cb&id=c&name=x"));
        assert_eq!(q.list("id"), vec!["a", "b", "c"]);
        assert_eq!(q.get("name"), Some("x"));
    }

    #[test]
    fn paging_links() {
        let q = Query::parse(Some("pageSize=2&pageNumber=2&name=x"));
        let v = page_of("/p", &q, 100, vec![1, 2, 3, 4, 5], |i| json!(i)).unwrap();
        assert_eq!(v["entities"], json!([3, 4]));
        assert_eq!(v["pageCount"], 3);
        assert_eq!(v["nextUri"], "/p?pageSize=2&pageNumber=3&name=x");
        assert_eq!(v["previousUri"], "/p?pageSize=2&pageNumber=1&name=x");
        let last = Query::parse(Some("pageSize=2&pageNumber=3"));
        let v = page_of("/p", &last, 100, vec![1, 2, 3, 4, 5], |i| json!(i)).unwrap();
        assert!(v.get("nextUri").is_none());
        assert_eq!(v["entities"], json!([5]));
        let empty = page_of("/p", &Query::default(), 100, Vec::<i32>::new(), |i| {
            json!(i)
        })
        .unwrap();
        assert_eq!(empty["total"], 0);
        assert_eq!(empty["pageCount"], 0);
        assert!(empty.get("nextUri").is_none());
        assert!(Query::parse(Some("pageSize=101")).paging(100).is_err());
        assert!(Query::parse(Some("pageSize=500")).paging(500).is_ok());
        assert!(Query::parse(Some("pageNumber=0")).paging(100).is_err());
    }
}
