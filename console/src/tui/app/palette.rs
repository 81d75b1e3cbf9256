//! The `:` command palette: what can be typed, completion of commands and their
//! arguments with Tab, and parsing into something the app does.

use super::super::nav::ViewId;
use super::super::view::Action;

/// The longest command line kept.
const MAX_INPUT: usize = 128;

/// Candidates listed under the input.
pub const MAX_CANDIDATES_SHOWN: usize = 8;

/// What a command's argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Slo,
    Instance,
    Task,
    Drill,
}

/// A command, its argument, and whether the argument may be left out.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    pub arg: ArgKind,
    pub optional: bool,
    pub help: &'static str,
}

const fn spec(name: &'static str, arg: ArgKind, optional: bool, help: &'static str) -> CommandSpec {
    CommandSpec {
        name,
        arg,
        optional,
        help,
    }
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    spec("overview", ArgKind::None, false, "the Overview"),
    spec("slo", ArgKind::Slo, true, "the SLO view, on SLO when given"),
    spec("rollout", ArgKind::None, false, "the Rollout view"),
    spec(
        "queue",
        ArgKind::None,
        false,
        "the Queue view and its dead letters",
    ),
    spec("instances", ArgKind::None, false, "the Instances view"),
    spec("logs", ArgKind::None, false, "the Logs view"),
    spec("drills", ArgKind::None, false, "the Drills view"),
    spec("audit", ArgKind::None, false, "the Audit view"),
    spec(
        "runbook",
        ArgKind::Slo,
        true,
        "the runbook of SLO (or the selected one)",
    ),
    spec(
        "promote",
        ArgKind::None,
        false,
        "promote the rollout one step",
    ),
    spec(
        "promote-full",
        ArgKind::None,
        false,
        "promote the rollout to 100%",
    ),
    spec("abort", ArgKind::None, false, "abort the rollout"),
    spec("retry", ArgKind::None, false, "retry an aborted rollout"),
    spec(
        "undo",
        ArgKind::None,
        false,
        "go back to the previous stable revision",
    ),
    spec("kill", ArgKind::Instance, false, "SIGKILL an instance"),
    spec(
        "restart",
        ArgKind::Instance,
        false,
        "restart an instance gracefully",
    ),
    spec(
        "requeue",
        ArgKind::Task,
        false,
        "requeue one dead-lettered task",
    ),
    spec(
        "requeue-all",
        ArgKind::None,
        false,
        "requeue every dead-lettered task",
    ),
    spec("drill", ArgKind::Drill, false, "run a drill"),
    spec(
        "up",
        ArgKind::None,
        false,
        "start the local environment (as `opsbox up`)",
    ),
    spec("help", ArgKind::None, false, "the keys of the current view"),
    spec("quit", ArgKind::None, false, "leave the console"),
];

/// What a palette line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Show(ViewId),
    ShowSlo(String),
    Runbook(Option<String>),
    Act(Action),
    StartStack,
    Help,
    Quit,
}

/// Names the arguments can take, as the console knows them now.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub slos: Vec<String>,
    pub instances: Vec<String>,
    pub tasks: Vec<String>,
    pub drills: Vec<String>,
}

impl Known {
    fn names(&self, kind: ArgKind) -> &[String] {
        match kind {
            ArgKind::None => &[],
            ArgKind::Slo => &self.slos,
            ArgKind::Instance => &self.instances,
            ArgKind::Task => &self.tasks,
            ArgKind::Drill => &self.drills,
        }
    }
}

fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|spec| spec.name == name)
}

/// Parses a palette line. Arguments are checked against what the console knows, so a typo
/// is answered at once; tasks are not (the console lists only the newest dead letters).
pub fn parse(line: &str, known: &Known) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Err("type a command; Tab completes, Esc closes".to_owned());
    };
    let name = if name == "q" { "quit" } else { name };
    let spec =
        find(name).ok_or_else(|| format!("unknown command `{name}`; Tab lists the commands"))?;
    let arg = words.next().map(str::to_owned);
    if let Some(extra) = words.next() {
        return Err(format!(
            "`{name}` takes at most one argument, not `{extra}`"
        ));
    }
    if spec.arg == ArgKind::None && arg.is_some() {
        return Err(format!("`{name}` takes no argument"));
    }
    if let Some(arg) = &arg {
        let names = known.names(spec.arg);
        if spec.arg != ArgKind::Task && !names.contains(arg) {
            let listed = if names.is_empty() {
                "none known yet".to_owned()
            } else {
                names.join(", ")
            };
            return Err(format!(
                "no {} named `{arg}`; known: {listed}",
                kind_noun(spec.arg)
            ));
        }
    } else if !spec.optional && spec.arg != ArgKind::None {
        return Err(format!(
            "`{name}` needs the name of {}",
            kind_name(spec.arg)
        ));
    }
    Ok(match (name, arg) {
        ("overview", _) => Command::Show(ViewId::Overview),
        ("slo", Some(slo)) => Command::ShowSlo(slo),
        ("slo", None) => Command::Show(ViewId::Slo),
        ("rollout", _) => Command::Show(ViewId::Rollout),
        ("queue", _) => Command::Show(ViewId::Queue),
        ("instances", _) => Command::Show(ViewId::Instances),
        ("logs", _) => Command::Show(ViewId::Logs),
        ("drills", _) => Command::Show(ViewId::Drills),
        ("audit", _) => Command::Show(ViewId::Audit),
        ("runbook", slo) => Command::Runbook(slo),
        ("promote", _) => Command::Act(Action::Promote),
        ("promote-full", _) => Command::Act(Action::PromoteFull),
        ("abort", _) => Command::Act(Action::Abort),
        ("retry", _) => Command::Act(Action::Retry),
        ("undo", _) => Command::Act(Action::Undo),
        ("kill", Some(instance)) => Command::Act(Action::KillInstance(instance)),
        ("restart", Some(instance)) => Command::Act(Action::RestartInstance(instance)),
        ("requeue", Some(task)) => Command::Act(Action::RequeueDead(task)),
        ("requeue-all", _) => Command::Act(Action::RequeueAllDead),
        ("drill", Some(drill)) => Command::Act(Action::RunDrill(drill)),
        ("up", _) => Command::StartStack,
        ("help", _) => Command::Help,
        _ => Command::Quit,
    })
}

fn kind_noun(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::None => "argument",
        ArgKind::Slo => "SLO",
        ArgKind::Instance => "instance",
        ArgKind::Task => "dead-lettered task",
        ArgKind::Drill => "drill",
    }
}

fn kind_name(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::None => "nothing",
        ArgKind::Slo => "an SLO",
        ArgKind::Instance => "an instance",
        ArgKind::Task => "a dead-lettered task",
        ArgKind::Drill => "a drill",
    }
}

/// What the palette holds while it is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub input: String,
    /// Set by a failed Enter; cleared by the next key.
    pub error: Option<String>,
    /// Cycling through candidates with repeated Tabs: the candidates and the next index.
    cycle: Option<(Vec<String>, usize)>,
}

impl Palette {
    pub fn push(&mut self, c: char) {
        if self.input.chars().count() < MAX_INPUT {
            self.input.push(c);
        }
        self.error = None;
        self.cycle = None;
    }

    pub fn backspace(&mut self) {
        self.input.pop();
        self.error = None;
        self.cycle = None;
    }

    /// Whole-word completions of the word being typed, for the list under the input.
    pub fn candidates(&self, known: &Known) -> Vec<String> {
        let (head, word) = split_last_word(&self.input);
        if head.trim().is_empty() {
            return COMMANDS
                .iter()
                .map(|spec| spec.name)
                .filter(|name| name.starts_with(word))
                .map(str::to_owned)
                .collect();
        }
        let command = head.split_whitespace().next().unwrap_or("");
        let Some(spec) = find(command) else {
            return Vec::new();
        };
        if head.split_whitespace().count() > 1 {
            return Vec::new();
        }
        known
            .names(spec.arg)
            .iter()
            .filter(|name| name.starts_with(word))
            .cloned()
            .collect()
    }

    /// Tab: completes to the only candidate (and a space after a command that takes an
    /// argument), to the common prefix of several, or cycles through them once there.
    pub fn complete(&mut self, known: &Known) {
        self.error = None;
        if let Some((candidates, next)) = &mut self.cycle {
            let choice = candidates[*next % candidates.len()].clone();
            *next += 1;
            let (head, _) = split_last_word(&self.input);
            self.input = format!("{head}{choice}");
            return;
        }
        let candidates = self.candidates(known);
        let (head, word) = split_last_word(&self.input);
        let head = head.to_owned();
        match candidates.as_slice() {
            [] => {}
            [only] => {
                let takes_arg = head.trim().is_empty()
                    && find(only).is_some_and(|spec| spec.arg != ArgKind::None);
                self.input = format!("{head}{only}{}", if takes_arg { " " } else { "" });
            }
            several => {
                let prefix = common_prefix(several);
                if prefix.len() > word.len() {
                    self.input = format!("{head}{prefix}");
                } else {
                    self.cycle = Some((several.to_vec(), 0));
                    self.complete(known);
                }
            }
        }
    }
}

/// `("kill ", "api")` for `kill api`; `("", "pro")` for `pro`.
fn split_last_word(input: &str) -> (&str, &str) {
    match input.rfind(' ') {
        Some(space) => input.split_at(space + 1),
        None => ("", input),
    }
}

fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut prefix: &str = first;
    for word in &words[1..] {
        while !word.starts_with(prefix) {
            let mut chars = prefix.chars();
            chars.next_back();
            prefix = chars.as_str();
        }
    }
    prefix.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            slos: vec![
                "api-availability".into(),
                "api-latency".into(),
                "jobs-success".into(),
            ],
            instances: vec!["api-1".into(), "api-2".into(), "worker-1".into()],
            tasks: Vec::new(),
            drills: vec!["worker-crash".into(), "redis-outage".into()],
        }
    }

    #[test]
    fn palette_lines_parse_into_views_and_actions() {
        let known = known();
        assert_eq!(parse("slo", &known), Ok(Command::Show(ViewId::Slo)));
        assert_eq!(
            parse("slo api-latency", &known),
            Ok(Command::ShowSlo("api-latency".into()))
        );
        assert_eq!(
            parse(" promote ", &known),
            Ok(Command::Act(Action::Promote))
        );
        assert_eq!(
            parse("promote-full", &known),
            Ok(Command::Act(Action::PromoteFull))
        );
        assert_eq!(
            parse("kill api-2", &known),
            Ok(Command::Act(Action::KillInstance("api-2".into())))
        );
        assert_eq!(
            parse("drill worker-crash", &known),
            Ok(Command::Act(Action::RunDrill("worker-crash".into())))
        );
        assert_eq!(
            parse("requeue 1234", &known),
            Ok(Command::Act(Action::RequeueDead("1234".into())))
        );
        assert_eq!(parse("runbook", &known), Ok(Command::Runbook(None)));
        assert_eq!(parse("q", &known), Ok(Command::Quit));
        assert_eq!(parse("up", &known), Ok(Command::StartStack));
    }

    #[test]
    fn palette_refuses_bad_lines_with_a_reason() {
        let known = known();
        let error = parse("promot", &known).expect_err("unknown");
        assert!(error.contains("unknown command `promot`"), "{error}");
        let error = parse("kill api-9", &known).expect_err("unknown instance");
        assert!(error.contains("api-1, api-2, worker-1"), "{error}");
        assert!(parse("kill", &known)
            .expect_err("needs one")
            .contains("needs the name of an instance"));
        assert!(parse("abort now", &known)
            .expect_err("no arg")
            .contains("takes no argument"));
        assert!(parse("kill api-1 api-2", &known)
            .expect_err("two")
            .contains("at most one"));
        assert!(parse("", &known).is_err());
    }

    #[test]
    fn tab_completes_commands_then_arguments() {
        let known = known();
        let mut palette = Palette::default();
        for c in "ki".chars() {
            palette.push(c);
        }
        palette.complete(&known);
        assert_eq!(palette.input, "kill ");
        palette.complete(&known);
        // api-1, api-2, worker-1: no common prefix beyond "", so it cycles.
        assert_eq!(palette.input, "kill api-1");
        palette.complete(&known);
        assert_eq!(palette.input, "kill api-2");
        palette.backspace();
        palette.backspace();
        palette.backspace();
        palette.backspace();
        palette.backspace();
        palette.push('w');
        palette.complete(&known);
        assert_eq!(palette.input, "kill worker-1");
    }

    #[test]
    fn tab_extends_to_the_common_prefix_first() {
        let known = known();
        let mut palette = Palette::default();
        for c in "slo api".chars() {
            palette.push(c);
        }
        assert_eq!(
            palette.candidates(&known),
            ["api-availability", "api-latency"]
        );
        palette.complete(&known);
        assert_eq!(palette.input, "slo api-");
        palette.complete(&known);
        assert_eq!(palette.input, "slo api-availability");
        let mut palette = Palette::default();
        for c in "pro".chars() {
            palette.push(c);
        }
        palette.complete(&known);
        assert_eq!(palette.input, "promote");
        assert_eq!(palette.candidates(&known), ["promote", "promote-full"]);
    }
}
