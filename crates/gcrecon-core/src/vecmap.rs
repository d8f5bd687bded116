//! [`VecMap`]: an ordered map kept as one sorted vector.
//!
//! An object's attributes are a handful of keys (`name`, `description`,
//! `permissions`, ...). A `BTreeMap` holding three of them allocates a
//! whole leaf node sized for eleven, over 600 bytes for string keys and
//! [`Value`](crate::value::Value)s; a plan of many resources holds several
//! such maps per resource (the state's, the listing's, the manifest's).
//! A sorted vector holds exactly its entries, is searched by bisection and
//! iterates in key order, as the `BTreeMap` did, so rendering, hashing and
//! diffing stay deterministic. It is also what a [`Value::Map`] holds,
//! small (an object's fields) or large (a `for_each` map of thousands of
//! entries). Inserting in the middle moves the entries after it, so a
//! large map is built in one go (`collect`, `extend`, or from a
//! `BTreeMap`), which sorts once, never by inserting key after key.
//!
//! [`Value::Map`]: crate::value::Value::Map

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where `key` is in `items` (sorted by `key_of`), as
/// `binary_search_by`, looking first at `hint`: a walk in the same order
/// that passes the position after the last one found finds each key with
/// one comparison. Searched when the item there holds another key.
pub fn search_near<T, Q: Ord + ?Sized>(
    items: &[T],
    hint: usize,
    key: &Q,
    key_of: impl Fn(&T) -> &Q,
) -> Result<usize, usize> {
    match items.get(hint) {
        Some(item) if key_of(item) == key => Ok(hint),
        _ => items.binary_search_by(|item| key_of(item).cmp(key)),
    }
}

/// A map ordered by key, stored as a vector of entries sorted by key with no
/// two keys equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }

    /// Sort entries appended in any order, keeping of equal keys the one
    /// appended last.
    fn restore_order(&mut self) {
        let entries = &mut self.entries;
        if entries.is_sorted_by(|a, b| a.0 < b.0) {
            return;
        }
        // Stable: of equal keys, the last one given stays last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // `dedup_by` keeps the first of a run; reverse so it is the last.
        entries.reverse();
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        entries.reverse();
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, looked for first at entry `index`: a caller that
    /// knows where the key should be (its position in another list in the
    /// same order) finds it with one comparison. Searched when the entry
    /// there holds another key.
    pub fn get_near<Q: Ord + ?Sized>(&self, index: usize, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let i = search_near(&self.entries, index, key, |(k, _)| k.borrow()).ok()?;
        Some(&self.entries[i].1)
    }

    /// The key and value of `key`, as `BTreeMap::get_key_value`.
    pub fn get_key_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        let (k, v) = &self.entries[i];
        Some((k, v))
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// True when `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had before, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Takes `key` out; its value, if it had one.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The value of `key`, inserting `make()` first when it has none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }
}

impl<K, V> VecMap<K, V> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.entries.iter())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in key order, taken out of the map.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`VecMap`] in key order, borrowed.
#[derive(Clone)]
pub struct Iter<'a, K, V>(std::slice::Iter<'a, (K, V)>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// As `BTreeMap`: when a key comes twice, the later value wins.
impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = VecMap {
            entries: iter.into_iter().collect(),
        };
        map.restore_order();
        map
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    /// As inserting each entry in turn (a later value replaces an earlier
    /// one of the same key), with one sort at the end.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.entries.extend(iter);
        self.restore_order();
    }
}

impl<K: Ord, V> From<std::collections::BTreeMap<K, V>> for VecMap<K, V> {
    fn from(map: std::collections::BTreeMap<K, V>) -> Self {
        // Already in key order, no key twice.
        VecMap {
            entries: map.into_iter().collect(),
        }
    }
}

impl<K: Ord, V> From<VecMap<K, V>> for std::collections::BTreeMap<K, V> {
    fn from(map: VecMap<K, V>) -> Self {
        map.entries.into_iter().collect()
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;

    /// Panics when `key` has no value, as `BTreeMap` does.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

/// Formats as a map, `{k: v, ...}`, as `BTreeMap` does.
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Decodes a map; a key given twice keeps its last value, as `BTreeMap`.
impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = VecMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = access.next_entry::<K, V>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }

        d.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The same operations on a `VecMap` and a `BTreeMap` leave the same
    /// entries in the same order.
    #[test]
    fn a_key_is_found_near_an_index_or_by_search() {
        let m: VecMap<&str, u32> = [("a", 1), ("b", 2), ("c", 3)].into();
        assert_eq!(m.get_near(1, "b"), Some(&2));
        // Another key there, or past the end: searched.
        assert_eq!(m.get_near(0, "c"), Some(&3));
        assert_eq!(m.get_near(9, "a"), Some(&1));
        assert_eq!(m.get_near(1, "d"), None);
    }

    #[test]
    fn behaves_as_an_ordered_map() {
        let mut v = VecMap::new();
        let mut b = BTreeMap::new();
        // A fixed pseudo-random sequence of inserts and removals.
        let mut x: u32 = 7;
        for step in 0..2_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (x >> 16) % 40);
            if step % 3 == 2 {
                assert_eq!(v.remove(key.as_str()), b.remove(key.as_str()));
            } else {
                assert_eq!(v.insert(key.clone(), step), b.insert(key, step));
            }
            assert!(v.iter().eq(b.iter()), "step {step}");
        }
        assert_eq!(v.len(), b.len());
        for k in b.keys() {
            assert_eq!(v.get(k.as_str()), b.get(k.as_str()));
            assert!(v.contains_key(k.as_str()));
        }
        assert_eq!(v.get("absent"), None);
        assert_eq!(BTreeMap::from(v.clone()), b);
        assert_eq!(VecMap::from(b.clone()), v);
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value() {
        let v: VecMap<&str, i32> = [("b", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)]
            .into_iter()
            .collect();
        let b: BTreeMap<&str, i32> = [("b", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)]
            .into_iter()
            .collect();
        assert!(v.iter().eq(b.iter()));
        let decoded: VecMap<String, i32> =
            serde_json::from_str(r#"{"z": 1, "y": 2, "z": 3}"#).unwrap();
        assert_eq!(serde_json::to_string(&decoded).unwrap(), r#"{"y":2,"z":3}"#);
    }

    #[test]
    fn holds_exactly_its_entries() {
        let v = VecMap::from([("name".to_owned(), 1), ("description".to_owned(), 2)]);
        assert_eq!(v.entries.capacity(), 2);
        assert_eq!(format!("{v:?}"), r#"{"description": 2, "name": 1}"#);
    }

    #[test]
    fn extending_is_inserting_each_in_turn() {
        use std::collections::BTreeMap;
        let start = [(5, "a"), (1, "b"), (9, "c")];
        let batches: [&[(i32, &str)]; 4] = [
            &[],
            &[(10, "d"), (11, "e")],
            &[(3, "f"), (9, "g"), (3, "h"), (0, "i")],
            &[(11, "j"), (11, "k"), (2, "l")],
        ];
        let mut v = VecMap::from(start);
        let mut b = BTreeMap::from(start);
        for batch in batches {
            v.extend(batch.iter().copied());
            b.extend(batch.iter().copied());
            let entries: Vec<(i32, &str)> = v.iter().map(|(k, x)| (*k, *x)).collect();
            assert_eq!(
                entries,
                b.clone().into_iter().collect::<Vec<_>>(),
                "{batch:?}"
            );
        }
    }
}
