//! Windows names: path splitting, the order directories are listed in,
//! resuming a listing after a marker, and wildcard patterns.

use std::cmp::Ordering;

/// The components of a path WinFsp hands us (`\dir\file`; `/` is accepted
/// too), without empty and "." components. ".." is returned as is: the
/// caller decides (WinFsp normalizes paths, so it does not normally occur).
pub fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split(['\\', '/'])
        .filter(|c| !c.is_empty() && *c != ".")
}

/// The case-insensitive key of a name: Unicode uppercase, as NTFS compares
/// names through its upcase table.
pub fn fold(name: &str) -> String {
    name.to_uppercase()
}

/// Order of a directory listing: case-insensitive first, then ordinal, so
/// the order is total and stable ("." and ".." are placed first by
/// [`page`], not by this comparison).
pub fn cmp_names(a: &str, b: &str) -> Ordering {
    fold(a).cmp(&fold(b)).then_with(|| a.cmp(b))
}

/// Sorts `items` by name in listing order ([`cmp_names`]).
pub fn sort_by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|i| (fold(name(i)), name(i).to_owned()));
}

/// One page of a listing: the entries after `marker`.
///
/// `dots` says whether the listing starts with "." and ".." (every
/// directory but the root); `sorted` is the rest in [`cmp_names`] order. The
/// result is the dots still to send (0, 1 or 2 of them, as names) and the
/// index into `sorted` to resume from. A marker that is not in the listing
/// resumes after where it would be.
pub fn page<T>(
    sorted: &[T],
    name: impl Fn(&T) -> &str,
    dots: bool,
    marker: Option<&str>,
) -> (&'static [&'static str], usize) {
    static DOTS: [&str; 2] = [".", ".."];
    let Some(marker) = marker else {
        return (if dots { &DOTS } else { &[] }, 0);
    };
    match marker {
        "." if dots => (&DOTS[1..], 0),
        ".." if dots => (&[], 0),
        _ => {
            let at = sorted.partition_point(|i| cmp_names(name(i), marker) != Ordering::Greater);
            (&[], at)
        }
    }
}

/// Whether `name` matches the wildcard `pattern`, ignoring case: `*` is any
/// run of characters, `?` any one character. The DOS wildcards that
/// `FindFirstFile` sends are understood as their usual approximations: `<`
/// as `*`, `>` as `?` and `"` as `.`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = fold(pattern)
        .chars()
        .map(|c| match c {
            '<' => '*',
            '>' => '?',
            '"' => '.',
            c => c,
        })
        .collect();
    let n: Vec<char> = fold(name).chars().collect();
    // Iterative glob with backtracking to the last '*': O(len(p) * len(n)).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_both_separators() {
        let c: Vec<_> = components(r"\a\\b/./c\").collect();
        assert_eq!(c, ["a", "b", "c"]);
        assert_eq!(components(r"\").count(), 0);
        assert_eq!(components("").count(), 0);
        let c: Vec<_> = components(r"\Ωmega\ünïcødé-名前.txt").collect();
        assert_eq!(c, ["Ωmega", "ünïcødé-名前.txt"]);
    }

    #[test]
    fn listing_order_is_case_insensitive_then_ordinal() {
        let mut v = vec!["b", "B", "a.txt", "A.TXT", "_x", "Z"];
        sort_by_name(&mut v, |s| s);
        assert_eq!(v, ["A.TXT", "a.txt", "B", "b", "Z", "_x"]);
        assert_eq!(cmp_names("abc", "ABD"), Ordering::Less);
    }

    #[test]
    fn paging_resumes_after_the_marker() {
        let v: Vec<String> = ["a", "B", "c", "D"].map(String::from).to_vec();
        let pg = |dots: bool, m: Option<&str>| page(&v, |s| s.as_str(), dots, m);
        assert_eq!(pg(true, None), (&[".", ".."][..], 0));
        assert_eq!(pg(false, None), (&[][..], 0));
        assert_eq!(pg(true, Some(".")), (&[".."][..], 0));
        assert_eq!(pg(true, Some("..")), (&[][..], 0));
        assert_eq!(pg(true, Some("B")), (&[][..], 2));
        // The marker's case is what we sent; a folded one still resumes.
        assert_eq!(pg(true, Some("b")), (&[][..], 2));
        assert_eq!(pg(true, Some("D")), (&[][..], 4));
        // Gone (or never there): after where it would sort.
        assert_eq!(pg(true, Some("bb")), (&[][..], 2));
        assert_eq!(pg(true, Some("zzz")), (&[][..], 4));
        // A name "." in the root (no dots) is an ordinary marker.
        assert_eq!(pg(false, Some(".")), (&[][..], 0));
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
        assert!(matches("*.txt", "Hello.TXT"));
        assert!(!matches("*.txt", "hello.txt.bak"));
        assert!(matches("h?llo.*", "hello.txt"));
        assert!(!matches("h?llo", "hllo"));
        assert!(matches("*a*b*c", "xxaxxbxxc"));
        assert!(!matches("*a*b*c", "xxaxxcxxb"));
        assert!(matches("ünï*", "ÜNÏCØDÉ-名前.txt"));
        assert!(matches("<.TXT", "readme.txt"));
        assert!(matches("README\"TXT", "readme.txt"));
        assert!(matches("exact", "EXACT"));
        assert!(!matches("exact", "exact2"));
    }
}
