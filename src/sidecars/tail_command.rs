//! Reading a container's command line: does it stream files with `tail`,
//! and how to make it wait for a file that does not exist yet.

use std::borrow::Cow;
use std::ops::Range;

use crate::value::Value;

/// How a `tail` command follows its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailFollow {
    /// The files it streams, all absolute.
    pub files: Vec<String>,
    /// Whether it keeps trying to open a file that does not exist yet
    /// (`-F`, `--retry`). Without it, tail exits when the file is missing.
    pub retries: bool,
    /// How to make it retry: the follow options rewritten to `-F`, in the
    /// container's own strings. `None` when an option is written in a way
    /// that cannot be edited byte for byte (quoted or escaped in a script);
    /// empty when it retries already.
    pub rewrite: Option<Vec<Edit>>,
}

/// One word of follow options to replace in `command` or `args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// `command` or `args`.
    pub key: &'static str,
    /// The index of the string in that list.
    pub index: usize,
    /// The bytes of the word in that string.
    pub range: Range<usize>,
    /// The word as written, and as rewritten: `-F` for a long option, every
    /// `f` of a cluster made `F`. Also the text of the warning.
    pub option: String,
    pub rewritten: String,
}

/// Paths of the kernel's pseudo-filesystems: always there, never a log file,
/// and never on a volume.
const PSEUDO_FILESYSTEMS: [&str; 3] = ["/dev/", "/proc/", "/sys/"];

/// Whether `path` is a pseudo-file such as `/dev/null` or `/proc/1/fd/1`.
pub fn is_pseudo_file(path: &str) -> bool {
    PSEUDO_FILESYSTEMS.iter().any(|root| path.starts_with(root))
}

impl TailFollow {
    /// The files that are real files, which a volume must share.
    pub fn log_files(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .map(String::as_str)
            .filter(|f| !is_pseudo_file(f))
    }

    /// Whether it would exit on a log file that is missing when it starts.
    pub fn exits_on_missing_file(&self) -> bool {
        !self.retries && self.log_files().next().is_some()
    }

    /// Whether it follows pseudo-files only, the keep-alive of toolbox and
    /// debug containers (`tail -f /dev/null`).
    pub fn follows_pseudo_files_only(&self) -> bool {
        self.log_files().next().is_none()
    }
}

/// Applies `edits`, in the order [`tail_follow`] gives them (the order of
/// the command line), to the container's `command` and `args`.
pub fn apply_edits(container: &mut Value, edits: &[Edit]) {
    for key in ["command", "args"] {
        let Some(list) = container.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        // Later ranges first, so that earlier ones in the same string keep
        // their offsets.
        for edit in edits.iter().rev().filter(|edit| edit.key == key) {
            if let Some(Value::String(text)) = list.get_mut(edit.index)
                && text.get(edit.range.clone()).is_some()
            {
                text.replace_range(edit.range.clone(), &edit.rewritten);
            }
        }
    }
}

/// A word of the command line, and where it is written when it can be
/// edited in place.
#[derive(Debug)]
struct Word<'a> {
    text: Cow<'a, str>,
    at: Option<Place>,
}

#[derive(Debug, Clone)]
struct Place {
    key: &'static str,
    index: usize,
    /// The byte at which the word starts in that string.
    start: usize,
}

/// The files a container streams with `tail -F`-like command lines, given
/// directly as `command`/`args` or through `sh -c` with one simple command.
/// `None` when the container does not follow absolute files with `tail`.
pub fn tail_follow(container: &Value) -> Option<TailFollow> {
    let argv = container_argv(container)?;
    let words = match shell_script(&argv) {
        Some((script, place)) => split_simple_command(script, place)?,
        None => argv
            .into_iter()
            .map(|(text, place)| Word {
                text: Cow::Borrowed(text),
                at: Some(place),
            })
            .collect(),
    };
    parse_tail(&words)
}

/// `command` followed by `args`, as the kubelet runs them (an image's
/// entrypoint is unknown here, so `args` alone stands for the command line),
/// each string with its place.
fn container_argv(container: &Value) -> Option<Vec<(&str, Place)>> {
    let mut argv = Vec::new();
    for key in ["command", "args"] {
        match container.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let place = Place {
                        key,
                        index,
                        start: 0,
                    };
                    argv.push((item.as_str()?, place));
                }
            }
            Some(_) => return None,
        }
    }
    Some(argv)
}

/// The script of `sh -c SCRIPT` (also `bash`, `ash`, `dash`, and option
/// clusters such as `-ec`), with its place.
fn shell_script<'a>(argv: &[(&'a str, Place)]) -> Option<(&'a str, Place)> {
    let shell = basename(argv.first()?.0);
    if !matches!(shell, "sh" | "bash" | "ash" | "dash") {
        return None;
    }
    let flags = argv.get(1)?.0.strip_prefix('-')?;
    let only_safe_flags = flags.chars().all(|c| matches!(c, 'c' | 'e' | 'u' | 'x'));
    (flags.contains('c') && only_safe_flags)
        .then(|| argv.get(2).cloned())
        .flatten()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Outside quotes, what makes a script more than one simple command to this
/// policy: operators, redirections, expansions, globs and comments. All
/// ASCII, so scripts are scanned byte by byte: no byte of a multi-byte
/// character can be one of them.
fn is_special(byte: u8) -> bool {
    matches!(
        byte,
        b'\n'
            | b';'
            | b'&'
            | b'|'
            | b'<'
            | b'>'
            | b'('
            | b')'
            | b'`'
            | b'$'
            | b'*'
            | b'?'
            | b'['
            | b'#'
            | b'~'
            | b'{'
            | b'}'
    )
}

fn is_quoting(byte: u8) -> bool {
    matches!(byte, b'\'' | b'"' | b'\\')
}

/// Blanks and newlines around a script change nothing: a YAML block scalar
/// (`- |`) ends the script with a newline.
const SURROUNDING: [char; 3] = [' ', '\t', '\n'];

/// Splits a shell script into words when it is one simple command: quotes
/// and backslashes are honoured; any [`is_special`] character makes it a
/// script this policy does not try to understand. A leading `exec` is
/// dropped, since it does not change what runs.
fn split_simple_command(script: &str, place: Place) -> Option<Vec<Word<'_>>> {
    let trimmed = script.trim_start_matches(SURROUNDING);
    let offset = script.len() - trimmed.len();
    let trimmed = trimmed.trim_end_matches(SURROUNDING);
    let at = |start: usize| {
        Some(Place {
            start: offset + start,
            ..place.clone()
        })
    };
    let mut words = if trimmed.bytes().any(is_quoting) {
        split_quoted(trimmed, at)?
    } else if trimmed.bytes().any(is_special) {
        return None;
    } else {
        // Nothing quoted, the usual case: the words are what blanks separate
        // (ASCII, so every index is a character boundary).
        let mut words = Vec::new();
        let mut start = None;
        for (i, b) in trimmed.bytes().enumerate().chain([(trimmed.len(), b' ')]) {
            match (b == b' ' || b == b'\t', start) {
                (true, Some(s)) => {
                    words.push(Word {
                        text: Cow::Borrowed(&trimmed[s..i]),
                        at: at(s),
                    });
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        words
    };
    if words.first().is_some_and(|w| w.text == "exec") {
        words.remove(0);
    }
    Some(words)
}

/// [`split_simple_command`] for a script with quotes or backslashes. Only
/// words written without them keep their place.
fn split_quoted(script: &str, at: impl Fn(usize) -> Option<Place>) -> Option<Vec<Word<'static>>> {
    let mut words = Vec::new();
    // The word being read, where it starts, and whether it is written as is.
    let mut word: Option<(String, usize, bool)> = None;
    let mut chars = script.char_indices();
    let finish = |word: Option<(String, usize, bool)>, words: &mut Vec<Word>| {
        if let Some((text, start, plain)) = word {
            let at = if plain { at(start) } else { None };
            words.push(Word {
                text: Cow::Owned(text),
                at,
            });
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => finish(word.take(), &mut words),
            '\'' => {
                let (w, _, plain) = word.get_or_insert_with(|| (String::new(), i, false));
                *plain = false;
                loop {
                    match chars.next()?.1 {
                        '\'' => break,
                        q => w.push(q),
                    }
                }
            }
            '"' => {
                let (w, _, plain) = word.get_or_insert_with(|| (String::new(), i, false));
                *plain = false;
                loop {
                    match chars.next()?.1 {
                        '"' => break,
                        '\\' => match chars.next()?.1 {
                            e @ ('"' | '\\' | '$' | '`') => w.push(e),
                            '\n' => {}
                            e => {
                                w.push('\\');
                                w.push(e);
                            }
                        },
                        '$' | '`' => return None,
                        q => w.push(q),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next()?.1;
                let (w, _, plain) = word.get_or_insert_with(|| (String::new(), i, false));
                *plain = false;
                if escaped != '\n' {
                    w.push(escaped);
                }
            }
            c if c.is_ascii() && is_special(c as u8) => return None,
            _ => word
                .get_or_insert_with(|| (String::new(), i, true))
                .0
                .push(c),
        }
    }
    finish(word, &mut words);
    Some(words)
}

/// GNU/BusyBox `tail` options: which ones take a value.
const SHORT_WITH_VALUE: &str = "ncs";
const SHORT_FLAGS: &str = "qvz";
const LONG_WITH_VALUE: [&str; 5] = [
    "lines",
    "bytes",
    "sleep-interval",
    "pid",
    "max-unchanged-stats",
];
const LONG_FLAGS: [&str; 5] = ["quiet", "silent", "verbose", "zero-terminated", "retry"];

/// A follow option without retry: its word, and for a cluster of short
/// options the byte of its `f`.
struct FollowOption {
    word: usize,
    short_at: Option<usize>,
}

/// Parses a `tail` argv. Unknown options mean the command is not understood,
/// and so not detected.
fn parse_tail(words: &[Word]) -> Option<TailFollow> {
    let (program, _) = words.split_first()?;
    if basename(&program.text) != "tail" {
        return None;
    }
    let (mut follow, mut retry, mut follows) = (false, false, Vec::new());
    let mut files = Vec::new();
    let mut args = words.iter().enumerate().skip(1);
    while let Some((w, word)) = args.next() {
        let arg: &str = &word.text;
        if arg == "--" {
            files.extend(args.by_ref().map(|(_, word)| word.text.to_string()));
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            match name {
                "follow" => {
                    // --follow=name alone does not retry a missing file either.
                    if !matches!(value, None | Some("name") | Some("descriptor")) {
                        return None;
                    }
                    follow = true;
                    follows.push(FollowOption {
                        word: w,
                        short_at: None,
                    });
                }
                "retry" if value.is_none() => retry = true,
                _ if LONG_FLAGS.contains(&name) && value.is_none() => {}
                _ if LONG_WITH_VALUE.contains(&name) => {
                    if value.is_none() {
                        args.next()?;
                    }
                }
                _ => return None,
            }
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            for (at, flag) in cluster.char_indices() {
                match flag {
                    'F' => (follow, retry) = (true, true),
                    'f' => {
                        follow = true;
                        follows.push(FollowOption {
                            word: w,
                            short_at: Some(1 + at),
                        });
                    }
                    _ if SHORT_FLAGS.contains(flag) => {}
                    _ if SHORT_WITH_VALUE.contains(flag) => {
                        if cluster[at + 1..].is_empty() {
                            args.next()?;
                        }
                        break;
                    }
                    _ => return None,
                }
            }
        } else {
            files.push(arg.to_string());
        }
    }
    let all_absolute = !files.is_empty() && files.iter().all(|f| f.starts_with('/'));
    if !follow || !all_absolute {
        return None;
    }
    let rewrite = if retry {
        Some(Vec::new())
    } else {
        // One edit per word, not per option: a cluster `-ffff...` is one
        // word however many times it says `f`.
        follows
            .chunk_by(|a, b| a.word == b.word)
            .map(|options| {
                let word = &words[options[0].word];
                let place = word.at.as_ref()?;
                let rewritten = match options[0].short_at {
                    None => "-F".to_string(),
                    Some(_) => {
                        let mut bytes = word.text.as_bytes().to_vec();
                        for at in options.iter().filter_map(|option| option.short_at) {
                            if let Some(byte) = bytes.get_mut(at) {
                                *byte = b'F';
                            }
                        }
                        String::from_utf8(bytes).ok()?
                    }
                };
                Some(Edit {
                    key: place.key,
                    index: place.index,
                    range: place.start..place.start + word.text.len(),
                    option: word.text.to_string(),
                    rewritten,
                })
            })
            .collect()
    };
    Some(TailFollow {
        files,
        retries: retry,
        rewrite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    /// The files and whether it retries: what detection and the mounts use.
    fn follows(files: &[&str], retries: bool) -> Option<(Vec<String>, bool)> {
        Some((files.iter().map(|f| f.to_string()).collect(), retries))
    }

    fn read(container: &Value) -> Option<(Vec<String>, bool)> {
        tail_follow(container).map(|t| (t.files, t.retries))
    }

    #[rstest]
    #[case::seed_sidecar_through_sh_c(
        json!({"command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"]}),
        follows(&["/var/log/cart-app.log"], true)
    )]
    #[case::exec_and_tabs_in_an_unquoted_script(
        json!({"command": ["sh", "-c", "exec\ttail  -F /a.log "]}),
        follows(&["/a.log"], true)
    )]
    #[case::upstream_example_in_args(
        json!({"args": ["/bin/sh", "-c", "tail -n+1 -F /var/log/1.log"]}),
        follows(&["/var/log/1.log"], true)
    )]
    #[case::direct_command_with_long_options(
        json!({"command": ["tail"], "args": ["--lines=+1", "--follow=name", "--retry", "/a.log"]}),
        follows(&["/a.log"], true)
    )]
    #[case::lines_value_in_the_next_word(
        json!({"command": ["/usr/bin/tail", "--lines", "+1", "-F", "/a.log", "/b.log"]}),
        follows(&["/a.log", "/b.log"], true)
    )]
    #[case::combined_short_flags(
        json!({"command": ["tail", "-qFn+1", "/a.log"]}),
        follows(&["/a.log"], true)
    )]
    #[case::follow_by_descriptor_without_retry(
        json!({"command": ["tail", "-f", "/a.log"]}),
        follows(&["/a.log"], false)
    )]
    #[case::follow_by_name_without_retry(
        json!({"command": ["tail", "--follow=name", "/a.log"]}),
        follows(&["/a.log"], false)
    )]
    #[case::bare_follow_with_retry(
        json!({"command": ["tail", "--follow", "--retry", "/a.log"]}),
        follows(&["/a.log"], true)
    )]
    #[case::quoted_path_with_space(
        json!({"command": ["bash", "-c", "exec tail -F '/var/log/my app.log'"]}),
        follows(&["/var/log/my app.log"], true)
    )]
    #[case::double_quotes_and_escapes(
        json!({"command": ["sh", "-ec", r#"tail -F "/var/log/a\"b.log" /var/log/c\ d.log"#]}),
        follows(&["/var/log/a\"b.log", "/var/log/c d.log"], true)
    )]
    #[case::files_after_double_dash(
        json!({"command": ["tail", "-F", "--", "/-odd.log"]}),
        follows(&["/-odd.log"], true)
    )]
    #[case::block_scalar_ending_in_a_newline(
        json!({"command": ["/bin/sh", "-c"], "args": ["tail -n+1 -f /var/log/app.log\n"]}),
        follows(&["/var/log/app.log"], false)
    )]
    #[case::block_scalar_with_leading_blank_lines(
        json!({"command": ["sh", "-c", "\n  tail -F '/var/log/a.log'\n\n"]}),
        follows(&["/var/log/a.log"], true)
    )]
    #[case::keep_alive_on_dev_null(
        json!({"command": ["tail", "-f", "/dev/null"]}),
        follows(&["/dev/null"], false)
    )]
    fn streaming_tail_commands_are_understood(
        #[case] container: Value,
        #[case] expected: Option<(Vec<String>, bool)>,
    ) {
        assert_eq!(read(&container), expected, "reading {container}");
    }

    #[rstest]
    #[case::tail_without_follow(json!({"command": ["tail", "-n", "10", "/a.log"]}))]
    #[case::relative_file(json!({"command": ["tail", "-F", "a.log"]}))]
    #[case::one_relative_file_among_absolute(json!({"command": ["tail", "-F", "/a.log", "b.log"]}))]
    #[case::no_file_reads_stdin(json!({"command": ["tail", "-F"]}))]
    #[case::compound_script(json!({"command": ["sh", "-c", "touch /a.log; tail -F /a.log"]}))]
    #[case::two_lines_of_script(json!({"command": ["sh", "-c", "touch /a.log\ntail -F /a.log\n"]}))]
    #[case::pipeline(json!({"command": ["sh", "-c", "tail -F /a.log | grep x"]}))]
    #[case::pipeline_after_a_quoted_word(json!({"command": ["sh", "-c", "tail -F '/a.log' | grep x"]}))]
    #[case::variable_expansion(json!({"command": ["sh", "-c", "tail -F $LOG"]}))]
    #[case::expansion_inside_double_quotes(json!({"command": ["sh", "-c", "tail -F \"$LOG\""]}))]
    #[case::glob(json!({"command": ["sh", "-c", "tail -F /var/log/*.log"]}))]
    #[case::unterminated_quote(json!({"command": ["sh", "-c", "tail -F '/a.log"]}))]
    #[case::unknown_option(json!({"command": ["tail", "-F", "--frobnicate", "/a.log"]}))]
    #[case::unknown_follow_mode(json!({"command": ["tail", "--follow=inode", "/a.log"]}))]
    #[case::missing_option_value(json!({"command": ["tail", "-F", "/a.log", "-n"]}))]
    #[case::value_that_looks_like_follow(json!({"command": ["tail", "-nF", "/a.log"]}))]
    #[case::shell_without_c(json!({"command": ["sh", "/script.sh"]}))]
    #[case::another_program(json!({"command": ["cat", "-F", "/a.log"]}))]
    #[case::no_command(json!({"image": "busybox"}))]
    #[case::command_of_wrong_type(json!({"command": "tail -F /a.log"}))]
    #[case::non_string_argument(json!({"command": ["tail", "-F", 7]}))]
    fn other_command_lines_are_not_streaming_sidecars(#[case] container: Value) {
        assert_eq!(read(&container), None, "reading {container}");
    }

    /// The container after its follow options are rewritten.
    fn rewritten(mut container: Value) -> Option<Value> {
        let edits = tail_follow(&container)?.rewrite?;
        apply_edits(&mut container, &edits);
        Some(container)
    }

    #[rstest]
    #[case::short_option_in_sh_c(
        json!({"command": ["sh", "-c", "tail -n+1 -f /var/log/app.log"]}),
        json!({"command": ["sh", "-c", "tail -n+1 -F /var/log/app.log"]})
    )]
    #[case::in_args_only(
        json!({"args": ["tail", "-f", "/var/log/app.log"]}),
        json!({"args": ["tail", "-F", "/var/log/app.log"]})
    )]
    #[case::in_command_and_args(
        json!({"command": ["/bin/sh", "-c"], "args": ["tail -n +1 -f /var/log/app.log"]}),
        json!({"command": ["/bin/sh", "-c"], "args": ["tail -n +1 -F /var/log/app.log"]})
    )]
    #[case::long_descriptor_option(
        json!({"command": ["tail", "--follow=descriptor", "/a.log"]}),
        json!({"command": ["tail", "-F", "/a.log"]})
    )]
    #[case::bare_long_option_in_a_script(
        json!({"command": ["sh", "-c", "exec tail --follow /a.log"]}),
        json!({"command": ["sh", "-c", "exec tail -F /a.log"]})
    )]
    #[case::inside_a_cluster_of_short_options(
        json!({"command": ["tail", "-qfn+1", "/a.log"]}),
        json!({"command": ["tail", "-qFn+1", "/a.log"]})
    )]
    #[case::block_scalar_keeps_its_newline(
        json!({"command": ["sh", "-c"], "args": ["\ntail -f /a.log\n"]}),
        json!({"command": ["sh", "-c"], "args": ["\ntail -F /a.log\n"]})
    )]
    #[case::quoted_file_next_to_a_plain_option(
        json!({"command": ["sh", "-c", "tail -f '/var/log/my app.log'"]}),
        json!({"command": ["sh", "-c", "tail -F '/var/log/my app.log'"]})
    )]
    #[case::every_follow_option(
        json!({"command": ["tail", "-f", "--follow=name", "/a.log"]}),
        json!({"command": ["tail", "-F", "-F", "/a.log"]})
    )]
    #[case::later_options_first_so_earlier_offsets_hold(
        json!({"command": ["sh", "-c", "tail --follow -f /a.log"]}),
        json!({"command": ["sh", "-c", "tail -F -F /a.log"]})
    )]
    #[case::every_f_of_a_cluster(
        json!({"command": ["sh", "-c", "tail -qffn+1 /a.log"]}),
        json!({"command": ["sh", "-c", "tail -qFFn+1 /a.log"]})
    )]
    #[case::retrying_already_changes_nothing(
        json!({"command": ["tail", "-f", "--retry", "/a.log"]}),
        json!({"command": ["tail", "-f", "--retry", "/a.log"]})
    )]
    fn follow_options_are_rewritten_to_retry_byte_for_byte(
        #[case] container: Value,
        #[case] expected: Value,
    ) {
        assert_eq!(rewritten(container.clone()), Some(expected), "{container}");
    }

    /// A word is copied once for its edit, not once per `f` it holds.
    #[test]
    fn a_long_cluster_of_follow_options_is_one_edit() {
        let cluster = format!("-{}", "f".repeat(100_000));
        let container = json!({"command": ["tail", cluster, "/a.log"]});
        let edits = tail_follow(&container)
            .and_then(|tail| tail.rewrite)
            .expect("an edit");
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].rewritten, format!("-{}", "F".repeat(100_000)));
    }

    #[test]
    fn a_quoted_follow_option_cannot_be_rewritten_in_place() {
        let container = json!({"command": ["sh", "-c", "tail '-f' /a.log"]});
        let tail = tail_follow(&container).expect("a streaming command");
        assert_eq!(tail.rewrite, None, "{container}");
    }

    #[rstest]
    #[case::dev_null("/dev/null", true)]
    #[case::stdout_of_pid_1("/proc/1/fd/1", true)]
    #[case::kernel_messages("/sys/kernel/debug/x", true)]
    #[case::a_log_file("/var/log/app.log", false)]
    #[case::a_directory_named_like_one("/devices/app.log", false)]
    fn pseudo_files_are_told_apart(#[case] path: &str, #[case] pseudo: bool) {
        assert_eq!(is_pseudo_file(path), pseudo, "{path}");
    }

    #[test]
    fn following_pseudo_files_needs_no_retry() {
        let keep_alive = tail_follow(&json!({"command": ["tail", "-f", "/dev/null"]})).unwrap();
        assert!(keep_alive.follows_pseudo_files_only());
        assert!(!keep_alive.exits_on_missing_file());
        let mixed =
            tail_follow(&json!({"command": ["tail", "-f", "/dev/null", "/a.log"]})).unwrap();
        assert_eq!(mixed.log_files().collect::<Vec<_>>(), vec!["/a.log"]);
        assert!(mixed.exits_on_missing_file());
    }
}
