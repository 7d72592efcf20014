//! Pushes, received in-process: the ref advertisement for
//! `git-receive-pack`, then `POST …/git-receive-pack`, which reads the ref
//! commands and the pack, resolves its deltas (against DB objects for thin
//! packs), checks what the push brings, stores the new objects in the DB
//! and moves each ref by compare-and-swap against the old id the client
//! sent. The answer is git's `report-status`, inside side-band-64k when the
//! client asked for it, with the reasons for a refusal as `remote:` lines.
//!
//! What a push must satisfy, else every ref in it is refused:
//! - every file stored in git, and every LFS pointer, passes
//!   `tessera_api::policy::check_file` (files over 10 MiB belong in LFS;
//!   pointers name objects this repo holds);
//! - objects are well-formed (commits parse, tree entries have sane names);
//! - every object the new objects point at, and every delta base outside the
//!   pack, is in the pack or already in this repo (objects are shared by all
//!   repos in the DB, so naming another repo's object id must not reach its
//!   content).
//!
//! Per ref: only `refs/heads/*` and `refs/tags/*` may be pushed, a branch
//! must point at a commit, and `main` may not be deleted. With `--atomic`
//! every ref moves in one transaction, or none does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use tessera_api::access::OldName;
use tessera_api::auth::Caller;
use tessera_api::policy::check_file;
use tessera_api::repo_url::RepoUrl;
use tessera_api::time::now_ms;
use tessera_api::{ApiError, AppState};
use tessera_db::{GitObject, RefUpdate, Repo};
use tessera_formats::FormatError;
use tessera_formats::git::{Commit, ObjectId, ObjectKind, valid_ref_component};
use tessera_formats::pack::{Pack, PackLimits};
use tessera_formats::pktline::{BAND_DATA, BAND_PROGRESS, FLUSH, Packet, PacketReader, write_packet, write_sideband};

use crate::access::{Need, authorize};
use crate::body;
use crate::cache::{DEFAULT_BRANCH, links};
use crate::error::GitError;
use crate::router::GitService;
use crate::upload::bytes_response;

/// The largest push accepted (the pack and the commands).
pub const MAX_PUSH_BYTES: u64 = 1024 * 1024 * 1024;

/// How big a push's objects may get: one object (files over 10 MiB are then
/// refused by the push rules with a message, not by the pack reader), and
/// all of them inflated and resolved, so a small pack of deltas cannot
/// claim unbounded memory.
const PACK_LIMITS: PackLimits = PackLimits { max_object_bytes: 512 << 20, max_total_bytes: 2 << 30 };

/// What receive-pack offers (no push options).
const CAPABILITIES: &str = concat!(
    "report-status delete-refs side-band-64k quiet atomic ofs-delta object-format=sha1 agent=tessera/",
    env!("CARGO_PKG_VERSION")
);

const RESULT_TYPE: &str = "application/x-git-receive-pack-result";

/// Why a ref did not move although everything else was fine.
const STALE: &str = "stale info: the ref moved since you fetched (fetch first)";

/// The id git uses for "no object".
const ZERO: ObjectId = ObjectId::from_bytes([0; 20]);

/// `GET …/info/refs?service=git-receive-pack`: the refs, from the DB.
pub async fn advertise(state: &AppState, repo: &Repo) -> Result<Response, GitError> {
    let refs = state.db.refs(repo.id).await?;
    let mut out = Vec::new();
    write_packet(&mut out, b"# service=git-receive-pack\n");
    out.extend_from_slice(FLUSH);
    if refs.is_empty() {
        write_packet(&mut out, format!("{ZERO} capabilities^{{}}\0{CAPABILITIES}\n").as_bytes());
    }
    for (index, (name, id)) in refs.iter().enumerate() {
        let line = if index == 0 { format!("{id} {name}\0{CAPABILITIES}\n") } else { format!("{id} {name}\n") };
        write_packet(&mut out, line.as_bytes());
    }
    out.extend_from_slice(FLUSH);
    Ok(bytes_response("application/x-git-receive-pack-advertisement", out))
}

/// One ref update the client asks for.
#[derive(Debug, Clone)]
struct RefCommand {
    old: ObjectId,
    new: ObjectId,
    name: String,
}

impl RefCommand {
    /// The compare-and-swap that applies it.
    fn as_update(&self) -> RefUpdate<'_> {
        RefUpdate {
            name: &self.name,
            expected: (self.old != ZERO).then_some(self.old),
            new: (self.new != ZERO).then_some(self.new),
        }
    }
}

/// The commands, the client's capabilities, and where the pack starts.
#[derive(Debug)]
struct PushRequest {
    commands: Vec<RefCommand>,
    capabilities: HashSet<String>,
    pack_offset: usize,
}

fn parse_request(body: &[u8]) -> Result<PushRequest, GitError> {
    let bad = |reason: String| GitError::BadRequest(format!("bad push request: {reason}"));
    let mut reader = PacketReader::new(body);
    let mut commands = Vec::new();
    let mut capabilities = HashSet::new();
    while let Some(packet) = reader.next_packet().map_err(|error| bad(error.to_string()))? {
        let line = match packet {
            Packet::Flush => break,
            Packet::Data(_) => packet.text().unwrap_or_default(),
            _ => return Err(bad("unexpected special packet".into())),
        };
        let line = std::str::from_utf8(line).map_err(|_| bad("command is not UTF-8".into()))?;
        let (command, caps) = line.split_once('\0').unwrap_or((line, ""));
        if commands.is_empty() {
            capabilities.extend(caps.split(' ').filter(|cap| !cap.is_empty()).map(str::to_owned));
        }
        if command.starts_with("shallow ") {
            // Sent by shallow clones. Their new commits must still connect to
            // objects the server holds, which the object check makes sure of.
            continue;
        }
        let mut parts = command.splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(format!("malformed command {command:?}")));
        };
        let id = |hex: &str| ObjectId::from_hex(hex).map_err(|error| bad(error.to_string()));
        commands.push(RefCommand { old: id(old)?, new: id(new)?, name: name.to_owned() });
    }
    Ok(PushRequest { commands, capabilities, pack_offset: body.len() - reader.rest().len() })
}

/// `POST …/git-receive-pack`.
pub async fn receive_pack(
    State(state): State<AppState>,
    Extension(git): Extension<Arc<GitService>>,
    caller: Result<Caller, ApiError>,
    route: RepoUrl,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Response, GitError> {
    let repo = authorize(&state, caller, &route, Need::Write, OldName::Serve).await?;
    let request = body::decode(&headers, request, MAX_PUSH_BYTES)?;
    let push = parse_request(&request)?;
    if push.commands.is_empty() {
        // git's probe before a large chunked push, or nothing to do.
        return Ok(bytes_response(RESULT_TYPE, Vec::new()));
    }
    let pack = request.slice(push.pack_offset..);
    let mut messages = Vec::new();
    let known = git.cache.known_objects(state.db.as_ref(), &repo).await?;
    let outcome = apply(&state, &repo, &known, &push, pack, &mut messages).await?;
    let accepted = outcome.statuses.iter().filter(|(_, status)| status.is_none()).count();
    tracing::info!(
        repo.id = repo.id,
        push.refs = push.commands.len(),
        push.refs_accepted = accepted,
        push.objects = outcome.objects,
        "push received"
    );
    if accepted > 0 {
        // Warm the cache for the next clone; a failure only costs that clone the work.
        let (state, git) = (state.clone(), git.clone());
        tokio::spawn(async move {
            if let Err(error) = git.cache.sync(state.db.as_ref(), &repo).await {
                tracing::warn!(repo.id = repo.id, error = %error, "git cache update after push failed");
            }
        });
    }

    let mut report = Vec::new();
    match &outcome.unpack_error {
        None => write_packet(&mut report, b"unpack ok\n"),
        Some(error) => write_packet(&mut report, format!("unpack {}\n", one_line(error)).as_bytes()),
    }
    for (name, status) in &outcome.statuses {
        match status {
            None => write_packet(&mut report, format!("ok {name}\n").as_bytes()),
            Some(reason) => write_packet(&mut report, format!("ng {name} {}\n", one_line(reason)).as_bytes()),
        }
    }
    report.extend_from_slice(FLUSH);
    if !push.capabilities.contains("side-band-64k") {
        return Ok(bytes_response(RESULT_TYPE, report));
    }
    let mut out = Vec::new();
    for message in &messages {
        write_sideband(&mut out, BAND_PROGRESS, format!("{message}\n").as_bytes());
    }
    write_sideband(&mut out, BAND_DATA, &report);
    out.extend_from_slice(FLUSH);
    Ok(bytes_response(RESULT_TYPE, out))
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// What happened to a push.
struct Outcome {
    /// Why the pack could not be read, if it could not.
    unpack_error: Option<String>,
    /// Per ref, in request order: `None` if it moved, else why not.
    statuses: Vec<(String, Option<String>)>,
    /// Objects stored.
    objects: usize,
}

impl Outcome {
    fn all_refused(commands: &[RefCommand], reason: &str, unpack_error: Option<String>) -> Self {
        let statuses = commands.iter().map(|command| (command.name.clone(), Some(reason.to_owned()))).collect();
        Self { unpack_error, statuses, objects: 0 }
    }
}

async fn apply(
    state: &AppState,
    repo: &Repo,
    known: &HashSet<ObjectId>,
    push: &PushRequest,
    pack: Bytes,
    messages: &mut Vec<String>,
) -> Result<Outcome, GitError> {
    let commands = push.commands.as_slice();
    let atomic = push.capabilities.contains("atomic");
    let db = state.db.as_ref();
    let objects = match read_pack(state, known, pack).await? {
        Ok(objects) => objects,
        Err(error) => {
            messages.push(format!("error: the pack could not be read: {error}"));
            return Ok(Outcome::all_refused(commands, "unpacker error", Some(error)));
        }
    };

    // Per-ref rules first: they need no walk.
    let mut statuses: Vec<Option<String>> = Vec::with_capacity(commands.len());
    for command in commands {
        statuses.push(check_command(state, known, &objects, command).await?);
    }

    if atomic && statuses.iter().any(Option::is_some) {
        let statuses = commands
            .iter()
            .zip(statuses)
            .map(|(command, status)| {
                (
                    command.name.clone(),
                    Some(status.unwrap_or_else(|| "atomic push failed: another ref was refused".into())),
                )
            })
            .collect();
        return Ok(Outcome { unpack_error: None, statuses, objects: 0 });
    }

    // Then what the new objects bring, once for the whole push.
    let tips: Vec<ObjectId> =
        commands.iter().zip(&statuses).filter(|(c, s)| s.is_none() && c.new != ZERO).map(|(c, _)| c.new).collect();
    let inspection = check_objects(state, repo, known, &objects, &tips).await?;
    if !inspection.problems.is_empty() {
        messages.push("Your push was rejected:".to_owned());
        messages.extend(inspection.problems.iter().map(|problem| format!("  - {problem}")));
        return Ok(Outcome::all_refused(commands, "rejected by the push rules (see the messages above)", None));
    }

    // Objects no accepted ref reaches were never checked: they are dropped.
    let stored: Vec<GitObject> =
        objects.into_values().filter(|object| inspection.reached.contains(&object.id)).collect();
    if !stored.is_empty() {
        db.put_objects(&stored).await?;
    }
    let mut result = Vec::with_capacity(commands.len());
    if atomic {
        let updates: Vec<RefUpdate<'_>> = commands.iter().map(RefCommand::as_update).collect();
        let moved = db.update_refs(repo.id, &updates).await?;
        result.extend(commands.iter().map(|command| (command.name.clone(), (!moved).then(|| STALE.to_owned()))));
    } else {
        for (command, status) in commands.iter().zip(statuses) {
            let status = match status {
                Some(reason) => Some(reason),
                None if db.update_refs(repo.id, &[command.as_update()]).await? => None,
                None => Some(STALE.to_owned()),
            };
            result.push((command.name.clone(), status));
        }
    }
    if result.iter().any(|(_, status)| status.is_none()) {
        db.touch_repo(repo.id, now_ms()).await?;
    }
    Ok(Outcome { unpack_error: None, statuses: result, objects: stored.len() })
}

/// The pack's objects by id, its deltas resolved (thin-pack bases come from
/// the DB); `Err` with a reason when the pack is unreadable.
async fn read_pack(
    state: &AppState,
    known: &HashSet<ObjectId>,
    pack: Bytes,
) -> Result<Result<HashMap<ObjectId, GitObject>, String>, GitError> {
    if pack.is_empty() {
        return Ok(Ok(HashMap::new()));
    }
    let parsed = off_thread(move || {
        let mut pack = Pack::parse(&pack, PACK_LIMITS)?;
        let missing = pack.resolve()?;
        Ok((pack, missing))
    })
    .await?;
    let (mut pack, missing) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Err(error)),
    };
    if !missing.is_empty() {
        let foreign = missing.iter().filter(|id| !known.contains(id)).count();
        if foreign > 0 {
            return Ok(Err(format!("{foreign} delta bases are neither in the pack nor in this repository")));
        }
        let bases = state.db.objects(&missing).await?;
        if bases.len() != missing.len() {
            return Ok(Err(format!(
                "{} delta bases are neither in the pack nor on the server",
                missing.len() - bases.len()
            )));
        }
        for base in bases {
            pack.add_base(base.id, base.kind, base.data);
        }
        pack = match off_thread(move || pack.resolve().map(|_| pack)).await? {
            Ok(pack) => pack,
            Err(error) => return Ok(Err(error)),
        };
    }
    // Fails if a delta is still unresolved.
    Ok(pack.into_objects().map_err(|error| error.to_string()).map(|objects| {
        objects
            .into_iter()
            .map(|object| (object.id, GitObject { id: object.id, kind: object.kind, data: object.data }))
            .collect()
    }))
}

/// Runs CPU-heavy pack work off the async threads; its format errors become reasons.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FormatError> + Send + 'static,
) -> Result<Result<T, String>, GitError> {
    tokio::task::spawn_blocking(move || work().map_err(|error| error.to_string()))
        .await
        .map_err(|error| GitError::Git(format!("pack task failed: {error}")))
}

/// Why one ref command cannot be applied, if it cannot.
async fn check_command(
    state: &AppState,
    known: &HashSet<ObjectId>,
    objects: &HashMap<ObjectId, GitObject>,
    command: &RefCommand,
) -> Result<Option<String>, GitError> {
    let name = &command.name;
    let short = name.strip_prefix("refs/heads/").or_else(|| name.strip_prefix("refs/tags/"));
    if !short.is_some_and(valid_ref_component) {
        return Ok(Some("only branches (refs/heads/…) and tags (refs/tags/…) with valid names can be pushed".into()));
    }
    if command.new == ZERO {
        return Ok((name == DEFAULT_BRANCH).then(|| "the default branch cannot be deleted".to_owned()));
    }
    let kind = match objects.get(&command.new) {
        Some(object) => Some(object.kind),
        None if known.contains(&command.new) => {
            state.db.object_kinds(&[command.new]).await?.first().map(|(_, kind)| *kind)
        }
        None => None,
    };
    Ok(match kind {
        None => Some(format!("missing necessary objects: {} is not in the pack", command.new)),
        Some(ObjectKind::Commit) => None,
        Some(ObjectKind::Tag) if name.starts_with("refs/tags/") => None,
        Some(other) => Some(format!("{} is a {}, not a commit", command.new, other.as_str())),
    })
}

/// A tree entry name git itself would refuse.
fn bad_entry_name(name: &str) -> bool {
    name.is_empty() || name == "." || name == ".." || name.contains('/') || name.eq_ignore_ascii_case(".git")
}

/// What the walk over a push's new objects found.
#[derive(Debug, Default)]
struct Inspection {
    /// Every rule broken.
    problems: Vec<String>,
    /// The pack's objects the new tips reach: the only ones worth storing.
    reached: HashSet<ObjectId>,
}

/// Walks the new objects reachable from `tips` (stopping at objects the
/// repo already had), by the kind each object really has, and lists every
/// rule they break. Each object must also have the kind that what points at
/// it says (a tree entry's mode, a commit's `tree` and `parent` lines), so
/// the walk here and the cache's walk from the DB follow the same objects.
async fn check_objects(
    state: &AppState,
    repo: &Repo,
    known: &HashSet<ObjectId>,
    objects: &HashMap<ObjectId, GitObject>,
    tips: &[ObjectId],
) -> Result<Inspection, GitError> {
    let db = state.db.as_ref();
    let mut found = Inspection::default();
    // Objects named but not sent, with the kinds (and paths) they are named as.
    let mut outside: HashMap<ObjectId, Vec<(String, ObjectKind)>> = HashMap::new();
    let mut stack: Vec<(ObjectId, String, Option<ObjectKind>)> =
        tips.iter().map(|tip| (*tip, String::new(), None)).collect();
    while let Some((id, path, expected)) = stack.pop() {
        let Some(object) = objects.get(&id) else {
            let names = outside.entry(id).or_default();
            names.extend(expected.map(|kind| (path, kind)));
            continue;
        };
        let problems = &mut found.problems;
        let kind = object.kind.as_str();
        // Checked on every visit: the same object may be named twice, as different kinds.
        if let Some(expected) = expected.filter(|expected| *expected != object.kind) {
            problems.push(format!("{kind} {id} at {path:?} is named as a {}", expected.as_str()));
            continue;
        }
        if !found.reached.insert(id) {
            continue;
        }
        if object.kind == ObjectKind::Commit
            && let Err(error) = Commit::parse(&object.data)
        {
            problems.push(format!("commit {id} is invalid: {error}"));
            continue;
        }
        if object.kind == ObjectKind::Blob {
            if let Some(violation) = check_file(db, repo.id, &path, &object.data).await? {
                problems.push(violation.to_string());
            }
            continue;
        }
        let links = match links(object) {
            Ok(links) => links,
            Err(error) => {
                problems.push(format!("{kind} {id} at {path:?} is invalid: {error}"));
                continue;
            }
        };
        for link in links {
            let child_path = match &link.name {
                Some(name) if bad_entry_name(name) => {
                    problems.push(format!("tree {id} at {path:?} has an invalid entry name {name:?}"));
                    continue;
                }
                Some(name) if link.kind == Some(ObjectKind::Tree) => format!("{path}{name}/"),
                Some(name) => format!("{path}{name}"),
                None => String::new(),
            };
            stack.push((link.id, child_path, link.kind));
        }
    }
    let lost = outside.keys().filter(|id| !known.contains(id)).count();
    if lost > 0 {
        found
            .problems
            .push(format!("{lost} objects the push refers to are neither in the pack nor in this repository"));
    }
    // Objects the repo already holds must still be of the kind they are named as.
    let typed: Vec<ObjectId> =
        outside.iter().filter(|(id, names)| !names.is_empty() && known.contains(id)).map(|(id, _)| *id).collect();
    for (id, kind) in state.db.object_kinds(&typed).await? {
        for (path, expected) in outside.get(&id).into_iter().flatten() {
            if *expected != kind {
                found.problems.push(format!("{} {id} at {path:?} is named as a {}", kind.as_str(), expected.as_str()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> ObjectId {
        ObjectId::from_bytes([byte; 20])
    }

    #[test]
    fn commands_capabilities_and_pack_offset() {
        let mut body = Vec::new();
        write_packet(&mut body, format!("{ZERO} {} refs/heads/new\0report-status side-band-64k\n", id(1)).as_bytes());
        write_packet(&mut body, format!("{} {ZERO} refs/heads/old\n", id(2)).as_bytes());
        body.extend_from_slice(FLUSH);
        body.extend_from_slice(b"PACKrest");
        let request = parse_request(&body).unwrap();
        assert_eq!(request.commands.len(), 2);
        assert_eq!((request.commands[0].old, request.commands[0].new), (ZERO, id(1)));
        assert_eq!(request.commands[1].name, "refs/heads/old");
        assert!(request.capabilities.contains("side-band-64k"));
        assert_eq!(&body[request.pack_offset..], b"PACKrest");
    }

    #[test]
    fn probes_and_bad_requests() {
        assert!(parse_request(FLUSH).unwrap().commands.is_empty());
        let mut shallow = Vec::new();
        write_packet(&mut shallow, format!("shallow {}\n", id(3)).as_bytes());
        write_packet(&mut shallow, format!("{} {} refs/heads/main\0report-status\n", id(3), id(4)).as_bytes());
        let request = parse_request(&shallow).unwrap();
        assert_eq!(request.commands.len(), 1, "shallow lines are not commands");
        assert!(request.capabilities.contains("report-status"));
        let mut garbage = Vec::new();
        write_packet(&mut garbage, b"not a command\n");
        assert!(parse_request(&garbage).is_err());
    }

    #[test]
    fn entry_names_git_refuses() {
        for name in ["", ".", "..", ".git", ".GIT", "a/b"] {
            assert!(bad_entry_name(name), "{name:?}");
        }
        assert!(!bad_entry_name(".gitattributes"));
    }
}
