//! The document as a small tree of elements, read with quick-xml's streaming reader: names
//! without their prefixes, attributes, text (with the five predefined entities and character
//! references resolved; nothing else is expanded and nothing is fetched) and children.

use quick_xml::NsReader;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::CamtError;

/// Statements nest about a dozen elements deep; a document nesting deeper than this is
/// refused rather than read (it also bounds the recursion of dropping the tree).
const DEPTH_MAX: usize = 48;

/// One element: its local name, attributes, trimmed text and child elements.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub(super) name: String,
    attributes: Vec<(String, String)>,
    pub(super) text: String,
    children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// Every child named `name`, in document order.
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    /// The element at `path` below this one, following the first child of each name.
    pub(super) fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter()
            .try_fold(self, |element, name| element.child(name))
    }

    /// The text of the element at `path`, if there is one.
    pub(super) fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).map(|element| element.text.as_str())
    }

    /// The value of the attribute `name` (without prefix).
    pub(super) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The root element and the namespace its name is bound to (empty when unbound).
pub(super) struct Document {
    pub(super) namespace: String,
    pub(super) root: Element,
}

fn malformed(reason: impl Into<String>) -> CamtError {
    CamtError::Malformed {
        reason: reason.into(),
    }
}

/// A fault quick-xml found: where and what kind, never the input itself.
fn malformed_xml(error: &quick_xml::Error, position: u64) -> CamtError {
    let what = match error {
        quick_xml::Error::Syntax(syntax) => syntax.to_string(),
        quick_xml::Error::IllFormed(_) => "elements are not properly nested or closed".to_owned(),
        quick_xml::Error::InvalidAttr(_) => "a malformed attribute".to_owned(),
        quick_xml::Error::Encoding(_) => "text that is not valid UTF-8".to_owned(),
        quick_xml::Error::Escape(_) => "a bad character or entity reference".to_owned(),
        quick_xml::Error::Namespace(_) => "a bad namespace declaration".to_owned(),
        quick_xml::Error::Io(_) => "the input could not be read".to_owned(),
    };
    malformed(format!("XML at byte {position}: {what}"))
}

fn utf8(bytes: &[u8]) -> Result<String, CamtError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| malformed("a name that is not valid UTF-8"))
}

/// Reads `xml` into a tree. Exactly one root element; text outside it must be blank.
pub(super) fn read(xml: &str) -> Result<Document, CamtError> {
    let mut reader = NsReader::from_str(xml.trim_start_matches('\u{feff}'));
    let mut builder = Builder::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|error| malformed_xml(&error, reader.error_position()))?;
        match event {
            Event::Start(start) => builder.open(&start, &reader)?,
            Event::Empty(start) => {
                builder.open(&start, &reader)?;
                builder.close()?;
            }
            Event::End(_) => builder.close()?,
            Event::Text(text) => {
                let text = text
                    .xml10_content()
                    .map_err(|_| malformed("text that is not valid UTF-8"))?;
                builder.text(&text)?;
            }
            Event::CData(data) => {
                let text = data
                    .xml10_content()
                    .map_err(|_| malformed("text that is not valid UTF-8"))?;
                builder.text(&text)?;
            }
            Event::GeneralRef(reference) => {
                let character = reference
                    .resolve_char_ref()
                    .map_err(|error| malformed_xml(&error, reader.error_position()))?;
                let name = reference
                    .decode()
                    .map_err(|_| malformed("a reference that is not valid UTF-8"))?;
                let mut buffer = [0_u8; 4];
                let text = match character {
                    Some(character) => &*character.encode_utf8(&mut buffer),
                    None => resolve_xml_entity(&name)
                        .ok_or_else(|| malformed("an entity that is not one of XML's five"))?,
                };
                builder.text(text)?;
            }
            Event::Eof => return builder.finish(),
            // The declaration, comments, processing instructions and a DOCTYPE (whose
            // declarations are never used) carry nothing a statement needs.
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

/// The elements read so far: the open ones, innermost last.
#[derive(Default)]
struct Builder {
    namespace: Option<String>,
    stack: Vec<Element>,
    root: Option<Element>,
}

impl Builder {
    fn open(&mut self, start: &BytesStart<'_>, reader: &NsReader<&[u8]>) -> Result<(), CamtError> {
        if self.stack.len() >= DEPTH_MAX {
            return Err(malformed(format!(
                "elements nest more than {DEPTH_MAX} deep"
            )));
        }
        if self.stack.is_empty() {
            if self.root.is_some() {
                return Err(malformed("more than one root element"));
            }
            self.namespace = Some(match reader.resolve_element(start.name()).0 {
                ResolveResult::Bound(namespace) => utf8(namespace.as_ref())?,
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(_) => return Err(malformed("an unbound prefix")),
            });
        }
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|error| malformed_xml(&error.into(), reader.error_position()))?;
            let value = attribute
                .decode_and_unescape_value_with(reader.decoder(), resolve_xml_entity)
                .map_err(|error| malformed_xml(&error, reader.error_position()))?;
            attributes.push((
                utf8(attribute.key.local_name().as_ref())?,
                value.into_owned(),
            ));
        }
        self.stack.push(Element {
            name: utf8(start.local_name().as_ref())?,
            attributes,
            text: String::new(),
            children: Vec::new(),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), CamtError> {
        let mut element = self
            .stack
            .pop()
            .ok_or_else(|| malformed("an end tag without a start"))?;
        let trimmed = element.text.trim();
        if trimmed.len() != element.text.len() {
            element.text = trimmed.to_owned();
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), CamtError> {
        match self.stack.last_mut() {
            Some(element) => element.text.push_str(text),
            None if text.trim().is_empty() => {}
            None => return Err(malformed("text outside the root element")),
        }
        Ok(())
    }

    fn finish(self) -> Result<Document, CamtError> {
        if !self.stack.is_empty() {
            return Err(malformed(
                "the document ends before its elements are closed",
            ));
        }
        match (self.root, self.namespace) {
            (Some(root), Some(namespace)) => Ok(Document { namespace, root }),
            _ => Err(malformed("no root element")),
        }
    }
}
