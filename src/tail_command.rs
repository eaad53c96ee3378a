//! Reading a container's command line: does it stream files with `tail`?

use serde_json::Value;

use crate::raw_json::field;

/// How a `tail` command follows its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailFollow {
    /// The files it streams, all absolute.
    pub files: Vec<String>,
    /// Whether it keeps trying to open a file that does not exist yet
    /// (`-F`, `--retry`). Without it, tail exits when the file is missing.
    pub retries: bool,
}

/// The files a container streams with `tail -F`-like command lines, given
/// directly as `command`/`args` or through `sh -c` with one simple command.
/// `None` when the container does not follow absolute files with `tail`.
pub fn tail_follow(container: &Value) -> Option<TailFollow> {
    let argv = container_argv(container)?;
    let argv = match shell_script(&argv) {
        Some(script) => split_simple_command(script)?,
        None => argv.iter().map(|s| s.to_string()).collect(),
    };
    parse_tail(&argv)
}

/// `command` followed by `args`, as the kubelet runs them (an image's
/// entrypoint is unknown here, so `args` alone stands for the command line).
fn container_argv(container: &Value) -> Option<Vec<&str>> {
    let strings = |key| -> Option<Vec<&str>> {
        match field(container, key) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
            Some(_) => None,
        }
    };
    let mut argv = strings("command")?;
    argv.extend(strings("args")?);
    Some(argv)
}

/// The script of `sh -c SCRIPT` (also `bash`, `ash`, `dash`, and option
/// clusters such as `-ec`).
fn shell_script<'a>(argv: &[&'a str]) -> Option<&'a str> {
    let shell = basename(argv.first()?);
    if !matches!(shell, "sh" | "bash" | "ash" | "dash") {
        return None;
    }
    let flags = argv.get(1)?.strip_prefix('-')?;
    let only_safe_flags = flags.chars().all(|c| matches!(c, 'c' | 'e' | 'u' | 'x'));
    (flags.contains('c') && only_safe_flags)
        .then(|| argv.get(2).copied())
        .flatten()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Outside quotes, what makes a script more than one simple command to this
/// policy: operators, redirections, expansions, globs and comments.
const SPECIAL: [char; 17] = [
    '\n', ';', '&', '|', '<', '>', '(', ')', '`', '$', '*', '?', '[', '#', '~', '{', '}',
];

/// Splits a shell script into words when it is one simple command: quotes
/// and backslashes are honoured; any [`SPECIAL`] character makes it a
/// script this policy does not try to understand. A leading `exec` is
/// dropped, since it does not change what runs.
fn split_simple_command(script: &str) -> Option<Vec<String>> {
    let mut words = if script.contains(['\'', '"', '\\']) {
        split_quoted(script)?
    } else if script.contains(SPECIAL) {
        return None;
    } else {
        // Nothing quoted, the usual case: the words are what blanks separate.
        script
            .split([' ', '\t'])
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect()
    };
    if words.first().map(String::as_str) == Some("exec") {
        words.remove(0);
    }
    Some(words)
}

/// [`split_simple_command`] for a script with quotes or backslashes.
fn split_quoted(script: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        q => w.push(q),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
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
            '\\' => match chars.next()? {
                '\n' => {}
                e => word.get_or_insert_with(String::new).push(e),
            },
            c if SPECIAL.contains(&c) => return None,
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
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

#[derive(Default)]
struct TailOptions {
    follow: bool,
    retry: bool,
}

/// Parses a `tail` argv. Unknown options mean the command is not understood,
/// and so not detected.
fn parse_tail(argv: &[String]) -> Option<TailFollow> {
    let (program, rest) = argv.split_first()?;
    if basename(program) != "tail" {
        return None;
    }
    let mut options = TailOptions::default();
    let mut files = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            files.extend(args.by_ref().cloned());
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            match name {
                "follow" => {
                    options.follow = true;
                    if !matches!(value, None | Some("name") | Some("descriptor")) {
                        return None;
                    }
                    // --follow=name alone does not retry a missing file either.
                }
                "retry" if value.is_none() => options.retry = true,
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
                    'F' => {
                        options.follow = true;
                        options.retry = true;
                    }
                    'f' => options.follow = true,
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
            files.push(arg.clone());
        }
    }
    let all_absolute = !files.is_empty() && files.iter().all(|f| f.starts_with('/'));
    (options.follow && all_absolute).then_some(TailFollow {
        files,
        retries: options.retry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn follows(files: &[&str], retries: bool) -> Option<TailFollow> {
        Some(TailFollow {
            files: files.iter().map(|f| f.to_string()).collect(),
            retries,
        })
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
    fn streaming_tail_commands_are_understood(
        #[case] container: Value,
        #[case] expected: Option<TailFollow>,
    ) {
        assert_eq!(tail_follow(&container), expected, "reading {container}");
    }

    #[rstest]
    #[case::tail_without_follow(json!({"command": ["tail", "-n", "10", "/a.log"]}))]
    #[case::relative_file(json!({"command": ["tail", "-F", "a.log"]}))]
    #[case::one_relative_file_among_absolute(json!({"command": ["tail", "-F", "/a.log", "b.log"]}))]
    #[case::no_file_reads_stdin(json!({"command": ["tail", "-F"]}))]
    #[case::compound_script(json!({"command": ["sh", "-c", "touch /a.log; tail -F /a.log"]}))]
    #[case::pipeline(json!({"command": ["sh", "-c", "tail -F /a.log | grep x"]}))]
    #[case::pipeline_after_a_quoted_word(json!({"command": ["sh", "-c", "tail -F '/a.log' | grep x"]}))]
    #[case::variable_expansion(json!({"command": ["sh", "-c", "tail -F $LOG"]}))]
    #[case::expansion_inside_double_quotes(json!({"command": ["sh", "-c", "tail -F \"$LOG\""]}))]
    #[case::glob(json!({"command": ["sh", "-c", "tail -F /var/log/*.log"]}))]
    #[case::unterminated_quote(json!({"command": ["sh", "-c", "tail -F '/a.log"]}))]
    #[case::unknown_option(json!({"command": ["tail", "-F", "--frobnicate", "/a.log"]}))]
    #[case::unknown_follow_mode(json!({"command": ["tail", "--follow=inode", "/a.log"]}))]
    #[case::missing_option_value(json!({"command": ["tail", "-F", "/a.log", "-n"]}))]
    #[case::shell_without_c(json!({"command": ["sh", "/script.sh"]}))]
    #[case::another_program(json!({"command": ["cat", "-F", "/a.log"]}))]
    #[case::no_command(json!({"image": "busybox"}))]
    #[case::command_of_wrong_type(json!({"command": "tail -F /a.log"}))]
    #[case::non_string_argument(json!({"command": ["tail", "-F", 7]}))]
    fn other_command_lines_are_not_streaming_sidecars(#[case] container: Value) {
        assert_eq!(tail_follow(&container), None, "reading {container}");
    }
}
