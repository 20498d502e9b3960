//! Reading and setting one threshold of a [`Config`] by its dotted place in
//! `proctor.toml` (`rules.no_face.min_s`, `rules.phone.min_score`),
//! through the configuration's own TOML form: no threshold is named here.

use crate::config::Config;

/// The configuration as a TOML value.
fn to_value(cfg: &Config) -> Result<toml::Value, String> {
    toml::Value::try_from(cfg).map_err(|e| format!("the configuration does not serialise: {e}"))
}

/// The number at `key` in `cfg` (`None` when there is none there).
pub fn get(cfg: &Config, key: &str) -> Option<f64> {
    let v = to_value(cfg).ok()?;
    let mut at = &v;
    for part in key.split('.') {
        at = at.get(part)?;
    }
    match at {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// `value` as the TOML value that goes where `like` is: an integer where
/// the configuration holds one (when `value` is whole), a float otherwise.
pub fn toml_number(like: Option<&toml::Value>, value: f64) -> Result<toml::Value, String> {
    match like {
        Some(toml::Value::Integer(_)) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(toml::Value::Integer(value as i64)),
        Some(toml::Value::Integer(_)) => Err(format!("{value} is not a whole number")),
        _ if value.is_finite() => Ok(toml::Value::Float(value)),
        _ => Err(format!("{value} is not a finite number")),
    }
}

/// `value` written as `cfg` holds the number at `key` (`5.0` for a float).
pub fn literal(cfg: &Config, key: &str, value: f64) -> Result<String, String> {
    let v = to_value(cfg)?;
    let mut at = Some(&v);
    for part in key.split('.') {
        at = at.and_then(|t| t.get(part));
    }
    Ok(toml_number(at, value)?.to_string())
}

/// `cfg` with `key` set to `value`: serialised to TOML, set there, read
/// back and validated. An error names the key when it is not a number of
/// the configuration (a table along its path is missing, or it holds
/// something else) or when the value is refused.
pub fn set(cfg: &Config, key: &str, value: f64) -> Result<Config, String> {
    let mut v = to_value(cfg)?;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().ok_or_else(|| "an empty key".to_string())?;
    let mut at = &mut v;
    for part in path {
        at = at.get_mut(*part).filter(|t| t.is_table()).ok_or_else(|| format!("{key}: the configuration has no table '{part}'"))?;
    }
    let table = at.as_table_mut().ok_or_else(|| format!("{key}: not in a table"))?;
    let old = table.get(*last);
    if old.is_some_and(|o| !(o.is_float() || o.is_integer())) {
        return Err(format!("{key}: not a number in the configuration"));
    }
    let new = toml_number(old, value).map_err(|why| format!("{key}: {why}"))?;
    table.insert((*last).to_string(), new);
    let out: Config = v.try_into().map_err(|e| format!("{key} = {value}: {e}"))?;
    out.validate().map_err(|why| format!("{key} = {value}: {why}"))?;
    Ok(out)
}
