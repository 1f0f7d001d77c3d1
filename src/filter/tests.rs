use super::rule::Side;
use super::*;

fn list(rules: &[&str]) -> FilterList {
    let v: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
    FilterList::parse(&v, false, false).unwrap()
}

fn hidden(fl: &FilterList, name: &str, dir: bool) -> bool {
    fl.check(name.as_bytes(), dir, Side::Sender, false) == Some(true)
}

#[test]
fn first_match_wins_and_clear() {
    let fl = list(&["+ a.c", "- *.c", "- *.o"]);
    assert!(!hidden(&fl, "x/a.c", false));
    assert!(hidden(&fl, "x/b.c", false));
    let fl = list(&["- *.c", "!", "- *.o"]);
    assert!(!hidden(&fl, "b.c", false));
    assert!(hidden(&fl, "b.o", false));
}

#[test]
fn wire_round_trip() {
    let fl = list(&[
        "- *.o",
        "+s keep",
        "P prot/",
        "-p perish",
        "-! */",
        ":n- .excl",
        "dir-merge,e /.rsync-filter",
        "-/ /abs/x",
        "-  lead",
    ]);
    let texts: Vec<String> = fl
        .to_texts()
        .iter()
        .map(|t| String::from_utf8(t.clone()).unwrap())
        .collect();
    let again = FilterList::parse(&texts, false, false).unwrap();
    assert_eq!(again.to_texts(), fl.to_texts());
    assert_eq!(texts[5], ":n- .excl");
    assert_eq!(texts[6], "- .rsync-filter");
    assert_eq!(texts[7], ": /.rsync-filter");
    assert_eq!(texts[9], "-  lead");
}

#[test]
fn rules_from_files_stay_marked_on_the_wire() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("rules");
    std::fs::write(&f, "- *.o\n").unwrap();
    let fl = list(&[&format!(". {}", f.display()), "- *.c"]);
    let texts: Vec<String> = fl
        .to_texts()
        .iter()
        .map(|t| String::from_utf8(t.clone()).unwrap())
        .collect();
    let again = FilterList::parse(&texts, false, false).unwrap();
    let hit = again.lookup(b"a.o", false, Side::Sender, false).unwrap();
    assert!(hit.rule.from_file);
    let hit = again.lookup(b"a.c", false, Side::Sender, false).unwrap();
    assert!(!hit.rule.from_file);
}

#[test]
fn cvs_rules_are_perishable() {
    let fl = list(&["-C"]);
    assert!(hidden(&fl, "a/b.o", false));
    assert!(hidden(&fl, ".git", true));
    assert!(!hidden(&fl, ".git", false));
    assert_eq!(fl.check(b"b.o", false, Side::Receiver, false), Some(true));
    assert_eq!(fl.check(b"b.o", false, Side::Receiver, true), None);
}

#[test]
fn per_directory_inheritance() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join(".f"), "- *.o\n- /top\n").unwrap();
    std::fs::write(root.join("a/.f"), "+ keep.o\n").unwrap();
    std::fs::write(root.join("a/b/.f"), "!\n- x\n").unwrap();
    std::fs::write(root.join("a/.n"), "- only-here\n").unwrap();
    let mut fl = list(&[": .f", ":n .n"]);
    fl.enter_dir(b".", root);
    assert!(hidden(&fl, "z.o", false));
    assert!(hidden(&fl, "top", false));
    fl.enter_dir(b"a", &root.join("a"));
    assert!(hidden(&fl, "a/z.o", false));
    assert!(!hidden(&fl, "a/keep.o", false));
    assert!(
        !hidden(&fl, "a/top", false),
        "anchored per-dir rules stay in their dir"
    );
    assert!(hidden(&fl, "a/only-here", false));
    fl.enter_dir(b"a/b", &root.join("a/b"));
    assert!(!hidden(&fl, "a/b/z.o", false), "! stops inheritance");
    assert!(hidden(&fl, "a/b/x", false));
    assert!(!hidden(&fl, "a/b/only-here", false), "n: not inherited");
    // Back up to a sibling: the deeper levels are dropped.
    std::fs::create_dir_all(root.join("c")).unwrap();
    fl.enter_dir(b"c", &root.join("c"));
    assert!(hidden(&fl, "c/z.o", false));
    assert!(!hidden(&fl, "c/x", false));
}

#[test]
fn nested_duplicate_dir_merge_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    // .f names .g again; .g's rules must only act at .g's own (later) slot.
    std::fs::write(root.join(".f"), ": .g\n- x\n").unwrap();
    std::fs::write(root.join(".g"), "+ x\n").unwrap();
    let mut fl = list(&[": .f", ": .g"]);
    fl.enter_dir(b".", root);
    assert!(hidden(&fl, "x", false));
}

#[test]
fn merge_inside_per_dir_file_is_relative_to_the_root() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/.f"), ". rules\n").unwrap();
    std::fs::write(root.join("rules"), "- y\n").unwrap();
    let mut fl = list(&[": .f"]);
    fl.enter_dir(b".", root);
    fl.enter_dir(b"sub", &root.join("sub"));
    assert!(fl.error.is_none());
    assert!(hidden(&fl, "sub/y", false));
    std::fs::remove_file(root.join("rules")).unwrap();
    std::fs::create_dir_all(root.join("sub2")).unwrap();
    std::fs::write(root.join("sub2/.f"), ". rules\n").unwrap();
    fl.enter_dir(b"sub2", &root.join("sub2"));
    let e = fl.error.take().expect("missing merge file is an error");
    assert_eq!(e.code, 11);
    assert!(
        e.msg.starts_with("failed to open exclude file <rule from "),
        "{}",
        e.msg
    );
}
