//! The lines `send --bulk` reads: one hit per line, as a query string (`idsite=1&rec=1&...`, with or
//! without a leading `?`, or a whole tracker URL) or as a JSON object of parameters
//! (`{"idsite": 1, "rec": 1, "url": "..."}`). Blank lines and lines starting with `#` are skipped; a
//! line without `idsite` is for the site of `--site-id`.

use matomo_core::TrackingRequest;

/// Parses one line, for site `site_id` when it names none: `Ok(None)` for a blank or comment line;
/// never panics.
///
/// ```
/// use matomo_cli::bulk::parse_line;
/// let hit = parse_line("?idsite=3&rec=1&url=https%3A%2F%2Fa.example%2F", 1).unwrap().unwrap();
/// assert_eq!(hit.site_id(), 3);
/// let json = parse_line(r#"{"idsite": 3, "rec": 1, "action_name": "Home"}"#, 1).unwrap().unwrap();
/// assert_eq!(json.action_name(), Some("Home"));
/// assert_eq!(parse_line("rec=1&url=https%3A%2F%2Fa.example%2F", 7).unwrap().unwrap().site_id(), 7);
/// assert!(parse_line("# a comment", 1).unwrap().is_none());
/// assert!(parse_line("{not json", 1).is_err());
/// ```
pub fn parse_line(line: &str, site_id: u32) -> Result<Option<TrackingRequest>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.starts_with('{') {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
            .map_err(|e| format!("not a JSON object of parameters ({e})"))?;
        let mut params = Vec::with_capacity(object.len());
        for (name, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            params.push((name, text));
        }
        return for_site(params, site_id);
    }
    let query = if line.contains("://") || line.starts_with('/') {
        line.split_once('?')
            .map(|(_, q)| q)
            .ok_or("a URL without a query string holds no hit")?
    } else {
        line
    };
    let query = query.strip_prefix('?').unwrap_or(query);
    let params = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    for_site(params, site_id)
}

/// The hit of `params`, for `site_id` when they name no `idsite`.
fn for_site(
    mut params: Vec<(String, String)>,
    site_id: u32,
) -> Result<Option<TrackingRequest>, String> {
    if !params.iter().any(|(name, _)| name == "idsite") {
        params.insert(0, ("idsite".to_owned(), site_id.to_string()));
    }
    TrackingRequest::from_params(params)
        .map(Some)
        .map_err(|e| e.to_string())
}
