//! Model cards: the README's YAML front matter becomes metadata chips, and
//! its Markdown becomes HTML with comrak (GFM, raw HTML allowed as cards
//! use it), then is sanitized with ammonia, so scripts, event handlers,
//! `javascript:` links and styles never survive. Relative links point into
//! the repo: pages to `blob/{rev}/…`, images to `resolve/{rev}/…`.

use std::collections::BTreeMap;
use std::sync::Arc;

use comrak::{Options, markdown_to_html};
use serde::Serialize;
use serde_norway::Value;

/// The card fields shown as chips, in this order, with their labels.
const CHIP_FIELDS: &[(&str, &str)] = &[
    ("pipeline_tag", "Task"),
    ("library_name", "Library"),
    ("license", "License"),
    ("language", "Language"),
    ("datasets", "Dataset"),
    ("base_model", "Base model"),
    ("tags", "Tag"),
];

/// A rendered model card.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Card {
    /// Sanitized HTML of the Markdown body.
    pub html: String,
    /// Chips from the front matter: label and value.
    pub chips: Vec<Chip>,
    /// Why the front matter could not be read, if it could not.
    pub metadata_error: Option<String>,
}

/// One metadata chip.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Chip {
    /// What it is (`License`).
    pub label: &'static str,
    /// Its value (`apache-2.0`).
    pub value: String,
}

/// Where relative links of a card point: the repo's web path
/// (`/datasets/ns/name`) and the percent-encoded revision.
#[derive(Debug, Clone)]
pub struct LinkBase {
    /// The repo's web path, without a trailing `/`.
    pub repo_path: String,
    /// The revision, percent-encoded as one path segment.
    pub revision: String,
}

impl LinkBase {
    fn rewrite(&self, url: &str, kind: &str) -> String {
        let is_absolute = url.starts_with('/') || url.starts_with('#') || url.contains(':');
        if is_absolute || url.is_empty() {
            return url.to_owned();
        }
        let relative = url.trim_start_matches("./");
        format!("{}/{kind}/{}/{relative}", self.repo_path, self.revision)
    }
}

/// Splits `---\n<yaml>\n---` front matter from the rest of the text.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, text)
}

/// The chips of a parsed front matter.
fn chips(metadata: &BTreeMap<String, Value>) -> Vec<Chip> {
    let mut chips = Vec::new();
    for (field, label) in CHIP_FIELDS {
        let values: Vec<String> = match metadata.get(*field) {
            Some(Value::String(text)) => vec![text.clone()],
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        chips.extend(values.into_iter().take(20).map(|value| Chip { label, value }));
    }
    chips
}

/// The sanitizer: ammonia's defaults (no scripts, styles, event handlers
/// or unsafe URL schemes; `rel="noopener noreferrer"`) plus the layout HTML
/// model cards use.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["details", "summary", "picture", "source"])
        .add_tag_attributes("div", ["align"])
        .add_tag_attributes("p", ["align"])
        .add_tag_attributes("h1", ["align"])
        .add_tag_attributes("h2", ["align"])
        .add_tag_attributes("h3", ["align"])
        .add_tag_attributes("source", ["srcset", "media", "type"])
        .add_tag_attributes("details", ["open"])
        .link_rel(Some("noopener noreferrer nofollow"));
    builder
}

/// Renders a README as a card.
pub fn render_card(text: &str, links: &LinkBase) -> Card {
    let (front_matter, body) = split_front_matter(text);
    let mut card = Card::default();
    if let Some(yaml) = front_matter {
        match serde_norway::from_str::<BTreeMap<String, Value>>(yaml) {
            Ok(metadata) => card.chips = chips(&metadata),
            Err(error) => card.metadata_error = Some(format!("The YAML metadata could not be read: {error}")),
        }
    }
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.render.r#unsafe = true; // cards use raw HTML; ammonia cleans it below
    let (for_links, for_images) = (links.clone(), links.clone());
    options.extension.link_url_rewriter = Some(Arc::new(move |url: &str| for_links.rewrite(url, "blob")));
    options.extension.image_url_rewriter = Some(Arc::new(move |url: &str| for_images.rewrite(url, "resolve")));
    let html = markdown_to_html(body, &options);
    card.html = sanitizer().clean(&html).to_string();
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> LinkBase {
        LinkBase { repo_path: "/acme/model".into(), revision: "main".into() }
    }

    #[test]
    fn front_matter_becomes_chips() {
        let card = render_card("---\nlicense: apache-2.0\ntags:\n- text\n- 7b\n---\n# Title\n", &base());
        let chips: Vec<_> = card.chips.iter().map(|chip| (chip.label, chip.value.as_str())).collect();
        assert_eq!(chips, vec![("License", "apache-2.0"), ("Tag", "text"), ("Tag", "7b")]);
        assert!(card.html.contains("<h1>Title</h1>"), "{}", card.html);
        assert!(!card.html.contains("license"));
    }

    #[test]
    fn scripts_never_survive() {
        let text = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))\n\n\
                    <div align=\"center\" style=\"color:red\" onclick=\"alert(4)\">ok</div>\n\n<img src=\"/logout\">";
        let html = render_card(text, &base()).html;
        for bad in ["<script", "onerror", "javascript:", "onclick", "style="] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("<div align=\"center\">ok</div>"), "{html}");
    }

    #[test]
    fn relative_links_point_into_the_repo() {
        let html = render_card("[doc](docs/a.md) ![img](./fig.png) [abs](https://x.org) [top](#usage)", &base()).html;
        assert!(html.contains("href=\"/acme/model/blob/main/docs/a.md\""), "{html}");
        assert!(html.contains("src=\"/acme/model/resolve/main/fig.png\""), "{html}");
        assert!(html.contains("href=\"https://x.org\""), "{html}");
        assert!(html.contains("href=\"#usage\""), "{html}");
    }

    #[test]
    fn bad_front_matter_is_reported() {
        let card = render_card("---\n: [\n---\ntext\n", &base());
        assert!(card.metadata_error.is_some());
        assert!(card.html.contains("text"));
    }
}
