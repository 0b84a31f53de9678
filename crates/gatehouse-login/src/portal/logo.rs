//! Uploaded logos: what the portal accepts before it stores one.
//!
//! PNG and JPEG only, at most [`MAX_LOGO_BYTES`], recognised by their signature and a header that
//! decodes to real dimensions (`imagesize`), never by the file name or the browser's declared
//! type. SVG is refused rather than sanitised: it is a document format that can carry script,
//! event handlers, external references and nested documents, and making it safe means parsing
//! and re-writing it with a large rendering library for a logo a PNG shows just as well; served
//! from our own origin, an SVG that slipped through would run as our page.

/// The largest logo accepted (256 KiB).
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// A logo that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Jpeg,
}

impl LogoType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The type of a stored logo from its content type; `None` for anything else.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type {
            "image/png" => Some(Self::Png),
            "image/jpeg" => Some(Self::Jpeg),
            _ => None,
        }
    }
}

/// Why a logo was refused; each has its message key (`developers.logo_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoProblem {
    TooLarge,
    Svg,
    /// Says it is a PNG or JPEG but its header does not decode.
    Broken,
    NotAnImage,
}

impl LogoProblem {
    pub fn message_key(self) -> &'static str {
        match self {
            Self::TooLarge => "developers.logo_too_large",
            Self::Svg => "developers.logo_svg",
            Self::Broken => "developers.logo_broken",
            Self::NotAnImage => "developers.logo_not_image",
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_SIGNATURE: &[u8] = b"\xff\xd8\xff";

/// Checks an uploaded logo: its type, or why it is refused.
pub fn check_logo(bytes: &[u8]) -> Result<LogoType, LogoProblem> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(LogoProblem::TooLarge);
    }
    let kind = if bytes.starts_with(PNG_SIGNATURE) {
        LogoType::Png
    } else if bytes.starts_with(JPEG_SIGNATURE) {
        LogoType::Jpeg
    } else if looks_like_svg(bytes) {
        return Err(LogoProblem::Svg);
    } else {
        return Err(LogoProblem::NotAnImage);
    };
    if kind == LogoType::Png && !png_structure_holds(bytes) {
        return Err(LogoProblem::Broken);
    }
    let decoded = imagesize::image_type(bytes)
        .ok()
        .zip(imagesize::blob_size(bytes).ok());
    match (kind, decoded) {
        (LogoType::Png, Some((imagesize::ImageType::Png, size)))
        | (LogoType::Jpeg, Some((imagesize::ImageType::Jpeg, size)))
            if size.width > 0 && size.height > 0 =>
        {
            Ok(kind)
        }
        _ => Err(LogoProblem::Broken),
    }
}

/// A PNG starts with its `IHDR` chunk (13 bytes, its CRC right) and ends with `IEND`
/// (PNG §5.3, §11.2): a file that only borrowed the signature does not.
fn png_structure_holds(bytes: &[u8]) -> bool {
    const IEND: &[u8] = b"\x00\x00\x00\x00IEND\xaeB`\x82";
    let Some(ihdr) = bytes.get(8..33) else {
        return false;
    };
    ihdr[..8] == *b"\x00\x00\x00\x0dIHDR"
        && crc32(&ihdr[4..21]).to_be_bytes() == ihdr[21..25]
        && bytes.ends_with(IEND)
}

/// CRC-32 (ISO 3309) as PNG uses it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An SVG (or other XML) document, so the message can say why it is refused.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('<') && (text.contains("<svg") || text.starts_with("<?xml"))
}

/// Whether `id` can be a stored logo's id: what the URL path may carry, nothing else.
pub fn is_logo_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1×1 PNG.
    pub const TINY_PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
        0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn a_real_png_passes_and_a_fake_one_does_not() {
        assert_eq!(check_logo(TINY_PNG), Ok(LogoType::Png));
        let mut fake = PNG_SIGNATURE.to_vec();
        fake.extend_from_slice(b"<script>alert(1)</script>");
        assert_eq!(check_logo(&fake), Err(LogoProblem::Broken));
        assert_eq!(
            check_logo(b"\xff\xd8\xff\xe0 not really"),
            Err(LogoProblem::Broken)
        );
    }

    #[test]
    fn svg_html_and_oversized_files_are_refused() {
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert_eq!(check_logo(svg), Err(LogoProblem::Svg));
        assert_eq!(
            check_logo(b"  <svg onload=\"alert(1)\"></svg>"),
            Err(LogoProblem::Svg)
        );
        assert_eq!(
            check_logo(b"<html><script>alert(1)</script>"),
            Err(LogoProblem::NotAnImage)
        );
        assert_eq!(check_logo(b""), Err(LogoProblem::NotAnImage));
        let mut big = TINY_PNG.to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert_eq!(check_logo(&big), Err(LogoProblem::TooLarge));
    }

    #[test]
    fn logo_ids_are_plain_tokens() {
        assert!(is_logo_id("logo_AbC-123"));
        for bad in ["", "../x", "a/b", "a.png", &"a".repeat(65)] {
            assert!(!is_logo_id(bad), "{bad}");
        }
    }
}
