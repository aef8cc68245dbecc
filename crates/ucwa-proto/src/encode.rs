//! Scalar encodings of the wire format (docs/protocol.md, Wire format;
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/payloadformat>).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Dates in JSON use the ASP.NET AJAX form `/Date(<ms since epoch>)/`.
pub fn aspnet_date(unix_ms: i64) -> String {
    format!("/Date({unix_ms})/")
}

/// Characters left as they are in data URIs; everything else is percent-encoded, as in the
/// recorded payloads (`data:text/plain;charset=utf-8,Hi%20there%0d%0a`).
const DATA_URI_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Carries non-JSON content (messages, custom content) as an RFC 2397 data URI.
pub fn data_uri(mime: &str, text: &str) -> String {
    format!("data:{mime};charset=utf-8,{}", utf8_percent_encode(text, DATA_URI_KEEP))
}

/// Characters .NET's `HttpUtility.UrlEncode` leaves alone (besides the space, which becomes
/// `+`): what the recorded message payloads were encoded with.
const FORM_KEEP: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'*').remove(b'(').remove(b')');

/// A message data URI encoded exactly like the recorded payloads
/// (`data:text/html;charset=utf-8,%3cspan+style%3d%22...`): spaces as `+`, lowercase hex.
/// Clients decode it with `unquote_plus`, so a literal `+` must be (and is) `%2b`.
pub fn form_data_uri(mime: &str, text: &str) -> String {
    let mut out = format!("data:{mime};charset=utf-8,");
    for chunk in text.split(' ').enumerate() {
        if chunk.0 > 0 {
            out.push('+');
        }
        for piece in utf8_percent_encode(chunk.1, FORM_KEEP) {
            if piece.starts_with('%') {
                out.push_str(&piece.to_ascii_lowercase());
            } else {
                out.push_str(piece);
            }
        }
    }
    out
}

/// Decodes the text of a data URI made by [`data_uri`] (or any `data:<type>,<urlencoded>`).
/// `+` is read as a space, as the recorded UCWA payloads use it that way.
pub fn decode_data_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("data:")?;
    let (meta, payload) = rest.split_once(',')?;
    let mime = meta.split(';').next().unwrap_or("text/plain").to_owned();
    let text = percent_decode_str(&payload.replace('+', " ")).decode_utf8().ok()?.into_owned();
    Some((mime, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_use_aspnet_form() {
        assert_eq!(aspnet_date(1466181726193), "/Date(1466181726193)/");
    }

    #[test]
    fn data_uri_matches_recorded_encoding() {
        assert_eq!(data_uri("text/plain", "Hi\r\n"), "data:text/plain;charset=utf-8,Hi%0D%0A");
    }

    #[test]
    fn form_data_uri_matches_the_recorded_html_message() {
        let html = r#"<span style="margin-bottom:0pt;line-height:normal;"><b><span style="font-size:10pt;">__htmlmessage__</span></b></span>"#;
        assert_eq!(
            form_data_uri("text/html", html),
            "data:text/html;charset=utf-8,%3cspan+style%3d%22margin-bottom%3a0pt%3bline-height%3anormal%3b%22%3e%3cb%3e%3cspan+style%3d%22font-size%3a10pt%3b%22%3e__htmlmessage__%3c%2fspan%3e%3c%2fb%3e%3c%2fspan%3e"
        );
        assert_eq!(form_data_uri("text/plain", "Hi Tosh\r\n"), "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a");
        assert_eq!(form_data_uri("text/plain", "1+1"), "data:text/plain;charset=utf-8,1%2b1");
    }

    proptest! {
        #[test]
        fn form_data_uri_round_trips(text in "\\PC*") {
            let (mime, back) = decode_data_uri(&form_data_uri("text/plain", &text)).unwrap();
            prop_assert_eq!(mime, "text/plain");
            prop_assert_eq!(back, text);
        }

        #[test]
        fn data_uri_round_trips(text in "\\PC*") {
            let (mime, back) = decode_data_uri(&data_uri("text/html", &text)).unwrap();
            prop_assert_eq!(mime, "text/html");
            prop_assert_eq!(back, text);
        }
    }
}
