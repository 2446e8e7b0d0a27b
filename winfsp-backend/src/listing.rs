//! A directory listing as Windows reads it: "." and ".." first (except in
//! the root), then the entries in [`crate::names::cmp_names`] order, each
//! with its [`WinFileInfo`]; read in pages that resume after a marker name
//! and filtered by a wildcard pattern.

use fs_core::Result;

use crate::attr::{WinFileInfo, win_file_info};
use crate::names;
use crate::tree::{Found, Tree};

/// One listed name and what Windows is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name as the image spells it.
    pub name: String,
    /// Its attributes, sizes and times.
    pub info: WinFileInfo,
}

/// A directory's listing, made once per open handle.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Info for "." and ".." (None in the root, which has neither).
    dots: Option<[WinFileInfo; 2]>,
    entries: Vec<Listed>,
}

impl Listing {
    /// Lists directory `dir` of `tree`.
    pub fn new(tree: &Tree, dir: &Found) -> Result<Listing> {
        let entries = tree
            .list(dir)?
            .into_iter()
            .map(|f| Listed {
                info: win_file_info(f.node.attr()),
                name: f.name,
            })
            .collect();
        let dots = if dir.is_root() {
            None
        } else {
            let own = win_file_info(dir.node.attr());
            let parent_id = dir
                .chain
                .len()
                .checked_sub(2)
                .and_then(|i| dir.chain.get(i))
                .copied()
                .unwrap_or(tree.volume().root());
            let parent = tree
                .volume()
                .node(parent_id)
                .map_or(own, |n| win_file_info(n.attr()));
            Some([own, parent])
        };
        Ok(Listing { dots, entries })
    }

    /// The entries (without "." and "..").
    pub fn entries(&self) -> &[Listed] {
        &self.entries
    }

    /// The entry called `name`, ignoring case (exact spelling wins).
    pub fn get(&self, name: &str) -> Option<&Listed> {
        self.entries.iter().find(|e| e.name == name).or_else(|| {
            let key = names::fold(name);
            self.entries.iter().find(|e| names::fold(&e.name) == key)
        })
    }

    /// What follows `marker` (everything when None), matching `pattern`
    /// (everything when None), in order.
    pub fn after<'a>(
        &'a self,
        marker: Option<&str>,
        pattern: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, &'a WinFileInfo)> + 'a {
        let (dots, from) = names::page(
            &self.entries,
            |e| e.name.as_str(),
            self.dots.is_some(),
            marker,
        );
        let dot_infos = self.dots.as_ref();
        let dots = dots.iter().filter_map(move |&d| {
            let infos = dot_infos?;
            Some((d, if d == "." { &infos[0] } else { &infos[1] }))
        });
        let rest = self.entries[from..]
            .iter()
            .map(|e| (e.name.as_str(), &e.info));
        dots.chain(rest)
            .filter(move |(n, _)| pattern.is_none_or(|p| names::matches(p, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::FILE_ATTRIBUTE_DIRECTORY;
    use crate::tree::tests::volume;

    fn names<'a>(it: impl Iterator<Item = (&'a str, &'a WinFileInfo)>) -> Vec<&'a str> {
        it.map(|(n, _)| n).collect()
    }

    #[test]
    fn root_has_no_dots_and_pages_by_marker() {
        let t = Tree::new(volume());
        let l = Listing::new(&t, &t.root().unwrap()).unwrap();
        let all = names(l.after(None, None));
        assert_eq!(
            all,
            ["b.bin", "dlink", "Hello.TXT", "Other", "rel", "Sub", "via"]
        );
        // Reading page by page with each page's last name as the marker
        // gives every name once.
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page: Vec<String> = l
                .after(marker.as_deref(), None)
                .take(2)
                .map(|(n, _)| n.to_string())
                .collect();
            let Some(last) = page.last().cloned() else {
                break;
            };
            seen.extend(page);
            marker = Some(last);
        }
        assert_eq!(seen, all);
        assert_eq!(names(l.after(Some("other"), None)), ["rel", "Sub", "via"]);
        assert_eq!(names(l.after(None, Some("*.t?t"))), ["Hello.TXT"]);
        assert_eq!(l.get("hello.txt").unwrap().name, "Hello.TXT");
        assert!(l.get("dangling").is_none());
    }

    #[test]
    fn subdirectories_start_with_dots() {
        let t = Tree::new(volume());
        let sub = t.lookup(r"\Sub").unwrap();
        let l = Listing::new(&t, &sub).unwrap();
        assert_eq!(
            names(l.after(None, None)),
            [".", "..", "Deep.txt", "sib", "top"]
        );
        assert_eq!(
            names(l.after(Some("."), None)),
            ["..", "Deep.txt", "sib", "top"]
        );
        assert_eq!(names(l.after(Some(".."), None)), ["Deep.txt", "sib", "top"]);
        assert_eq!(names(l.after(None, Some("*.txt"))), ["Deep.txt"]);
        let (_, dot) = l.after(None, None).next().unwrap();
        assert_eq!(dot.attributes, FILE_ATTRIBUTE_DIRECTORY);
        assert_eq!(dot.index_number, 2);
        let (_, dotdot) = l.after(None, None).nth(1).unwrap();
        assert_eq!(dotdot.index_number, 1);
        // "top" is a link to /Hello.TXT: it shows that file.
        assert_eq!(l.get("TOP").unwrap().info.file_size, 5);
    }
}
