//! The page title from the start of an HTML response: what Matomo shows as the action name.
//!
//! The scan is bounded (it reads at most [`MAX_SCAN`] bytes), finds `<title>` in any case and with
//! attributes, tolerates invalid UTF-8, decodes entities once, collapses white space and caps the
//! length at [`MAX_TITLE_CHARS`] characters.

use std::borrow::Cow;

/// How many bytes of a body the scan reads at most.
pub const MAX_SCAN: usize = 64 * 1024;
/// How many characters of a title are kept.
pub const MAX_TITLE_CHARS: usize = 250;

/// The title of an HTML document from its first bytes, if it has a non-empty one.
///
/// ```
/// use matomo_core::html_title;
/// let html = b"<!doctype html><HTML><head><Title lang=en>Caf&eacute; &amp;\n  Bar</TITLE>";
/// assert_eq!(html_title(html).as_deref(), Some("Café & Bar"));
/// assert_eq!(html_title(b"{\"json\": true}"), None);
/// ```
pub fn html_title(body: &[u8]) -> Option<String> {
    let body = &body[..body.len().min(MAX_SCAN)];
    let open = find_tag(body, b"<title")?;
    let after_name = open + b"<title".len();
    // `<titles>` or `<title-x>` are other elements.
    match body.get(after_name) {
        Some(b'>') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | Some(b'/') => {}
        _ => return None,
    }
    let content_start = after_name + body[after_name..].iter().position(|&b| b == b'>')? + 1;
    let rest = &body[content_start..];
    let content_end = find_tag(rest, b"</title").unwrap_or(rest.len());
    let raw: Cow<'_, str> = String::from_utf8_lossy(&rest[..content_end]);
    let decoded = html_escape::decode_html_entities(&raw);
    let mut title = String::with_capacity(decoded.len().min(MAX_TITLE_CHARS * 4));
    for word in decoded.split_whitespace() {
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    if let Some((cut, _)) = title.char_indices().nth(MAX_TITLE_CHARS) {
        title.truncate(cut);
        // A cut right after a space must not leave it dangling.
        title.truncate(title.trim_end().len());
    }
    (!title.is_empty()).then_some(title)
}

fn find_tag(haystack: &[u8], tag: &[u8]) -> Option<usize> {
    haystack
        .windows(tag.len())
        .position(|window| window.eq_ignore_ascii_case(tag))
}
