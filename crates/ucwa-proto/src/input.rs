//! Request input. UCWA clients send property names in any letter case (`UserAgent` and
//! `userAgent` both occur in recorded traffic), and any body field may also come as a query
//! parameter (docs/protocol.md, Wire format). [`PropertyBag`] normalises both into one lookup by
//! lowercased name; typed readers then report every bad field by its documented name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Case-insensitive view over the properties of a request.
#[derive(Debug, Clone, Default)]
pub struct PropertyBag {
    values: BTreeMap<String, Value>,
}

/// Why one parameter was refused: goes into the `parameters` bag of a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The documented (camelCase) property name.
    pub name: &'static str,
    pub problem: String,
}

impl PropertyBag {
    /// From a JSON object body. Later keys win when two differ only in case.
    pub fn from_json(body: Map<String, Value>) -> Self {
        let values = body.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        Self { values }
    }

    /// Adds query-string pairs for names the body does not already carry.
    pub fn with_query(mut self, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        for (k, v) in pairs {
            self.values.entry(k.to_ascii_lowercase()).or_insert(Value::String(v));
        }
        self
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.values.get(&name.to_ascii_lowercase()).filter(|v| !v.is_null())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// An optional string of at most `max` characters ([`text`]).
    pub fn string(&self, name: &'static str, max: usize) -> Result<Option<String>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => text(name, s, max).map(|()| Some(s.clone())),
            Some(_) => Err(ParamError { name, problem: "must be a string".into() }),
        }
    }

    /// A required string of 1..=`max` characters.
    pub fn required_string(&self, name: &'static str, max: usize) -> Result<String, ParamError> {
        match self.string(name, max)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(ParamError { name, problem: "is required".into() }),
        }
    }

    /// An optional string that must be one of `allowed` (compared case-insensitively,
    /// answered in the documented spelling).
    pub fn enumeration(
        &self,
        name: &'static str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, ParamError> {
        match self.string(name, 100)? {
            None => Ok(None),
            Some(s) => allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&s))
                .map(|a| Some(*a))
                .ok_or_else(|| ParamError { name, problem: format!("must be one of {}", allowed.join(", ")) }),
        }
    }

    /// An optional boolean (JSON bool, or "true"/"false" from a query string).
    pub fn boolean(&self, name: &'static str) -> Result<Option<bool>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ParamError { name, problem: "must be a boolean".into() }),
        }
    }

    /// An optional whole number in `min..=max` (a JSON number, or digits from a query string).
    pub fn integer(&self, name: &'static str, min: i64, max: i64) -> Result<Option<i64>, ParamError> {
        let out_of_range = || ParamError { name, problem: format!("must be a whole number from {min} to {max}") };
        let value = match self.raw(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        value.filter(|v| (min..=max).contains(v)).map(Some).ok_or_else(out_of_range)
    }

    /// An optional list of strings, each at most `max` characters.
    pub fn string_list(&self, name: &'static str, max: usize) -> Result<Option<Vec<String>>, ParamError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => text(name, s, max).map(|()| s.clone()),
                    _ => Err(ParamError { name, problem: "must be a list of strings".into() }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ParamError { name, problem: "must be a list of strings".into() }),
        }
    }

    /// An optional date: ASP.NET `/Date(ms)/` or a plain number of milliseconds.
    pub fn date_ms(&self, name: &'static str) -> Result<Option<i64>, ParamError> {
        let bad = || ParamError { name, problem: "must be a date such as /Date(1700000000000)/".into() };
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) => {
                let inner = s.trim().trim_start_matches('\\').trim_start_matches('/').trim_end_matches('/');
                let inner = inner.trim_end_matches('\\');
                inner
                    .strip_prefix("Date(")
                    .and_then(|r| r.strip_suffix(')'))
                    .unwrap_or(inner)
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| bad())
            }
            Some(_) => Err(bad()),
        }
    }
}

/// Checks the text of string parameter `name`: at most `max` characters, and no NUL
/// (U+0000). No UCWA client sends one, and PostgreSQL cannot keep one in a text column: let
/// through, it would fail the statement that stores or looks up the value.
pub fn text(name: &'static str, value: &str, max: usize) -> Result<(), ParamError> {
    if value.contains('\0') {
        return Err(ParamError { name, problem: "must not contain the NUL character (U+0000)".into() });
    }
    if value.chars().count() > max {
        return Err(ParamError { name, problem: format!("longer than {max} characters") });
    }
    Ok(())
}

/// Collects every parameter error of a request instead of stopping at the first, so a
/// 400 names all bad parameters at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<ParamError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the error and yields `T::default()`.
    pub fn check<T: Default>(&mut self, r: Result<T, ParamError>) -> T {
        r.unwrap_or_else(|e| {
            self.errors.push(e);
            T::default()
        })
    }

    /// Records a rule that spans fields (e.g. "required for anonymous users").
    pub fn fail(&mut self, name: &'static str, problem: impl Into<String>) {
        self.errors.push(ParamError { name, problem: problem.into() });
    }

    pub fn finish(self) -> Result<(), Vec<ParamError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bag(v: Value) -> PropertyBag {
        PropertyBag::from_json(v.as_object().cloned().unwrap())
    }

    #[test]
    fn integers_are_numbers_or_digits_in_range() {
        let b = bag(json!({"duration": 15, "Limit": "7", "big": 31, "text": "x", "float": 1.5}))
            .with_query([("q".to_owned(), "12".to_owned())]);
        assert_eq!(b.integer("duration", 10, 30).unwrap(), Some(15));
        assert_eq!(b.integer("limit", 1, 100).unwrap(), Some(7));
        assert_eq!(b.integer("q", 1, 100).unwrap(), Some(12));
        assert_eq!(b.integer("absent", 1, 2).unwrap(), None);
        for name in ["big", "text", "float"] {
            assert_eq!(b.integer(name, 10, 30).unwrap_err().name, name);
        }
    }

    #[test]
    fn names_are_case_insensitive() {
        let b = bag(json!({"UserAgent": "x", "ENDPOINTID": "e"}));
        assert_eq!(b.string("userAgent", 100).unwrap().as_deref(), Some("x"));
        assert_eq!(b.string("endpointId", 100).unwrap().as_deref(), Some("e"));
    }

    #[test]
    fn body_wins_over_query() {
        let b = bag(json!({"subject": "body"}))
            .with_query(vec![("Subject".into(), "query".into()), ("x".into(), "1".into())]);
        assert_eq!(b.string("subject", 250).unwrap().as_deref(), Some("body"));
        assert_eq!(b.string("x", 250).unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn limits_and_types_are_named() {
        let b = bag(json!({"subject": "x".repeat(251), "importance": "Loud", "flag": 3}));
        assert_eq!(b.string("subject", 250).unwrap_err().name, "subject");
        assert!(b.enumeration("importance", &["Normal"]).is_err());
        assert!(b.boolean("flag").is_err());
        assert_eq!(
            bag(json!({"importance": "urgent"})).enumeration("importance", &["Urgent"]).unwrap(),
            Some("Urgent")
        );
    }

    #[test]
    fn strings_with_a_nul_are_refused_by_name() {
        // A JSON body carries a NUL as `\u0000`; a query string's `%00` decodes to one.
        let body = r#"{"subject": "a\u0000b", "attendees": ["ok", "x\u0000"], "fine": "a\\u0000"}"#;
        let b = bag(serde_json::from_str(body).unwrap()).with_query([("Description".to_owned(), "\0".to_owned())]);
        assert_eq!(b.string("subject", 250).unwrap_err().name, "subject");
        assert_eq!(b.required_string("subject", 250).unwrap_err().name, "subject");
        assert_eq!(b.string_list("attendees", 250).unwrap_err().name, "attendees");
        assert_eq!(b.string("description", 250).unwrap_err().name, "description");
        assert!(b.enumeration("subject", &["a\u{0}b"]).is_err());
        // An escaped backslash before `u0000` is text, not a NUL.
        assert_eq!(b.string("fine", 250).unwrap().as_deref(), Some("a\\u0000"));
    }

    #[test]
    fn dates_parse_both_forms() {
        assert_eq!(bag(json!({"d": "/Date(5)/"})).date_ms("d").unwrap(), Some(5));
        assert_eq!(bag(json!({"d": 7})).date_ms("d").unwrap(), Some(7));
        assert!(bag(json!({"d": "soon"})).date_ms("d").is_err());
    }
}
