//! The shared volume mount: a log sidecar must read the very file the app
//! writes, which means the same place inside the same volume.

use std::collections::HashMap;

use crate::conversion::change::Change;
use crate::error::PolicyError;
use crate::raw_json::child_or_insert;
use crate::sidecars::log_sidecars::name;
use crate::value::{Map, Value, object};

/// A `volumeMount` as far as file locations go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    volume: String,
    mount_path: String,
    sub: Sub,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sub {
    Path(String),
    Expr(String),
}

impl Mount {
    fn read(mount: &Value) -> Mount {
        let text = |key| mount.get(key).and_then(Value::as_str).unwrap_or_default();
        let sub = match mount.get("subPathExpr").and_then(Value::as_str) {
            Some(expr) if !expr.is_empty() => Sub::Expr(expr.to_string()),
            _ => Sub::Path(text("subPath").to_string()),
        };
        Mount {
            volume: text("name").to_string(),
            mount_path: text("mountPath").to_string(),
            sub,
        }
    }

    /// The mount path without a trailing slash; `/` becomes empty.
    fn dir(&self) -> &str {
        self.mount_path.trim_end_matches('/')
    }

    /// The part of `file` below this mount, if the mount covers it.
    fn below<'f>(&self, file: &'f str) -> Option<&'f str> {
        let rest = file.strip_prefix(self.dir())?;
        (rest.is_empty() || rest.starts_with('/')).then(|| rest.trim_start_matches('/'))
    }

    /// Whether `file` seen through this mount and through `other` is the
    /// same place: the same path inside the same volume. A `subPathExpr`
    /// depends on the container's environment, so it is compared unexpanded.
    fn same_place(&self, other: &Mount, file: &str) -> bool {
        let (Some(rest), Some(other_rest)) = (self.below(file), other.below(file)) else {
            return self.below(file).is_none() && other.below(file).is_none();
        };
        let (sub, other_sub) = match (&self.sub, &other.sub) {
            (Sub::Path(sub), Sub::Path(other_sub)) => (sub.as_str(), other_sub.as_str()),
            (Sub::Expr(expr), Sub::Expr(other_expr)) if expr == other_expr => ("", ""),
            _ => return false,
        };
        self.volume == other.volume && components(sub, rest).eq(components(other_sub, other_rest))
    }

    /// Where `app`, a mount of the same volume, shows the place where this
    /// mount puts `file`, whatever its own mount path: `None` when it does
    /// not show it, `Some(None)` when it does at a path that cannot be told
    /// (a `subPathExpr` seen through a mount of the volume's root). An app
    /// mount of the volume's root shows every place; a `subPathExpr` is
    /// compared unexpanded.
    fn app_path(&self, app: &Mount, file: &str) -> Option<Option<String>> {
        let rest = self.below(file)?;
        let inside = |parts: Vec<&str>| Some(format!("{}/{}", app.dir(), parts.join("/")));
        match (&self.sub, &app.sub) {
            (Sub::Path(sub), Sub::Path(app_sub)) => {
                let mut place = components(sub, rest);
                components(app_sub, "")
                    .all(|part| place.next() == Some(part))
                    .then(|| inside(place.collect()))
            }
            (Sub::Expr(_), Sub::Path(app_sub)) if components(app_sub, "").next().is_none() => {
                Some(None)
            }
            (Sub::Expr(expr), Sub::Expr(app_expr)) if expr == app_expr => {
                Some(inside(components("", rest).collect()))
            }
            _ => None,
        }
    }

    /// The mount a sidecar needs to see the file where the app writes it.
    fn read_only_copy(&self) -> Value {
        let sub = match &self.sub {
            Sub::Path(sub) if sub.is_empty() => None,
            Sub::Path(sub) => Some(("subPath", sub)),
            Sub::Expr(expr) => Some(("subPathExpr", expr)),
        };
        // Made at its size: one of these per converted sidecar.
        let entries = [
            ("name", self.volume.as_str().into()),
            ("mountPath", self.mount_path.as_str().into()),
        ]
        .into_iter()
        .chain(sub.map(|(key, value)| (key, value.as_str().into())))
        .chain([("readOnly", true.into())])
        .map(|(key, value)| (key.to_string(), value));
        Value::Object(entries.collect())
    }

    /// ` (subPath x)` or ` (subPathExpr x)`, or nothing for a whole volume.
    fn describe_sub(&self) -> String {
        match &self.sub {
            Sub::Path(sub) if sub.is_empty() => String::new(),
            Sub::Path(sub) => format!(" (subPath {sub})"),
            Sub::Expr(expr) => format!(" (subPathExpr {expr})"),
        }
    }

    fn describe(&self) -> String {
        match &self.sub {
            Sub::Path(sub) if sub.is_empty() => self.mount_path.clone(),
            Sub::Path(sub) => format!("{} with subPath {sub}", self.mount_path),
            Sub::Expr(expr) => format!("{} with subPathExpr {expr}", self.mount_path),
        }
    }
}

/// The parts of `sub` joined with `rest`, without empty parts and `.`:
/// `logs/./app` and `logs/app/` are the same path.
fn components<'p>(sub: &'p str, rest: &'p str) -> impl Iterator<Item = &'p str> {
    sub.split('/')
        .chain(rest.split('/'))
        .filter(|part| !part.is_empty() && *part != ".")
}

fn mounts(container: &Value) -> Vec<Mount> {
    container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .map(|mounts| mounts.iter().map(Mount::read).collect())
        .unwrap_or_default()
}

/// The mount with the longest mount path that covers `file`.
fn covering(mounts: &[Mount], file: &str) -> Option<Mount> {
    mounts
        .iter()
        .filter(|m| m.below(file).is_some())
        .max_by_key(|m| m.dir().len())
        .cloned()
}

/// The volume of the container's deepest mount that covers `file`.
pub fn covering_volume(container: &Value, file: &str) -> Option<String> {
    covering(&mounts(container), file).map(|mount| mount.volume)
}

/// A container's `volumeMounts` as they were: absent, `null`, or a list of
/// that many mounts. Mounts are only ever appended, so this is enough to
/// undo them.
#[derive(Debug, Clone, Copy)]
pub struct MountsMark(Option<Option<usize>>);

impl MountsMark {
    pub fn of(container: &Value) -> MountsMark {
        MountsMark(
            container
                .get("volumeMounts")
                .map(|mounts| mounts.as_array().map(Vec::len)),
        )
    }

    /// Removes the mounts added to `container` since the mark.
    pub fn restore(self, container: &mut Value) {
        let Some(object) = container.as_object_mut() else {
            return;
        };
        match self.0 {
            None => {
                object.shift_remove("volumeMounts");
            }
            Some(None) => {
                object.insert("volumeMounts".to_string(), Value::Null);
            }
            Some(Some(len)) => {
                if let Some(Value::Array(mounts)) = object.get_mut("volumeMounts") {
                    mounts.truncate(len);
                }
            }
        }
    }
}

fn push_mount(container: &mut Value, mount: Value) {
    if let Some(Value::Array(mounts)) =
        child_or_insert(container, "volumeMounts", Value::Array(Vec::new()))
    {
        mounts.push(mount);
    }
}

/// The regular containers and volumes of a pod spec, and what the policy may
/// change in them to let a log sidecar read a file.
pub struct SharedFiles<'a> {
    apps: &'a mut [Value],
    volumes: &'a mut Vec<Value>,
    add_volume_mounts: bool,
    create_shared_volume: bool,
    /// Built on first use, dropped when an app gains a mount. Without it,
    /// finding the app mount of each sidecar's file meant reading every mount
    /// of every app: quadratic in the size of the pod.
    app_mounts: Option<AppMounts>,
}

/// The mounts of the app containers, each with the index of its app, in app
/// order, then mount order: by [`Mount::dir`] and by volume.
#[derive(Default)]
struct AppMounts {
    by_dir: HashMap<String, Vec<(usize, Mount)>>,
    by_volume: HashMap<String, Vec<(usize, Mount)>>,
}

fn app_mounts(apps: &[Value]) -> AppMounts {
    let mut index = AppMounts::default();
    for (app, container) in apps.iter().enumerate() {
        for mount in mounts(container) {
            index
                .by_volume
                .entry(mount.volume.clone())
                .or_default()
                .push((app, mount.clone()));
            index
                .by_dir
                .entry(mount.dir().to_string())
                .or_default()
                .push((app, mount));
        }
    }
    index
}

/// Every directory that a mount covering `file` can have as [`Mount::dir`],
/// deepest first: `file` itself, then each prefix that a `/` ends.
fn covering_dirs(file: &str) -> impl Iterator<Item = &str> {
    std::iter::once(file).chain(file.rmatch_indices('/').map(|(end, _)| &file[..end]))
}

/// What was done to, or is wrong with, one sidecar's access to its files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub changes: Vec<Change>,
    pub problems: Vec<PolicyError>,
}

/// What [`SharedFiles::roll_back`] needs to undo the changes made to the
/// apps and volumes since [`SharedFiles::checkpoint`].
pub struct Checkpoint {
    volumes: usize,
    /// The `volumeMounts` of the only app, when a new volume may be mounted
    /// there; `None` inside when it had none.
    app_mounts: Option<Option<Value>>,
}

impl<'a> SharedFiles<'a> {
    pub fn new(
        apps: &'a mut [Value],
        volumes: &'a mut Vec<Value>,
        add_volume_mounts: bool,
        create_shared_volume: bool,
    ) -> Self {
        SharedFiles {
            apps,
            volumes,
            add_volume_mounts,
            create_shared_volume,
            app_mounts: None,
        }
    }

    /// Makes sure `sidecar` (at kubectl path `path`) reads `file` where the
    /// apps write it. With `may_change` false (a sidecar that is already
    /// native), only checks.
    ///
    /// The sidecar's own covering mount decides first: through it, the file
    /// is a place in a volume, and any app that mounts that place, at
    /// whatever path, writes the file the sidecar reads. Only a sidecar
    /// without a covering mount gets the app's mount at the same path.
    pub fn give_access(
        &mut self,
        sidecar: &mut Value,
        path: &str,
        file: &str,
        may_change: bool,
        access: &mut Access,
    ) {
        match covering(&mounts(sidecar), file) {
            Some(own) => self.check_own_mount(sidecar, &own, path, file, access),
            None => self.share_app_mount(sidecar, path, file, may_change, access),
        }
    }

    /// A sidecar that mounts `file` itself reads the app's file when an app
    /// mounts the same place of the same volume.
    fn check_own_mount(
        &mut self,
        sidecar: &Value,
        own: &Mount,
        path: &str,
        file: &str,
        access: &mut Access,
    ) {
        let apps = &*self.apps;
        let index = self.app_mounts.get_or_insert_with(|| app_mounts(apps));
        // The app must see the place through that very mount: a deeper one
        // of its own would hide it.
        let writer = index.by_volume.get(&own.volume).and_then(|candidates| {
            candidates
                .iter()
                .find(|(app, app_mount)| match own.app_path(app_mount, file) {
                    None => false,
                    Some(None) => true,
                    Some(Some(path)) => covering(&mounts(&apps[*app]), &path)
                        .is_some_and(|deepest| deepest == *app_mount),
                })
        });
        if let Some((app, app_mount)) = writer {
            if let Sub::Expr(expr) = &app_mount.sub
                && let Some(variable) = differing_variable(expr, &apps[*app], sidecar)
            {
                access.problems.push(PolicyError::SubPathExprEnvMismatch {
                    path: path.to_string(),
                    file: file.to_string(),
                    expr: expr.clone(),
                    variable,
                });
            }
            return;
        }
        // No app mounts that place; an app mount at the same path is the
        // likely intent.
        let at_same_path = match self.app_mount(path, file) {
            Ok(found) => found.filter(|(_, app_mount)| !own.same_place(app_mount, file)),
            Err(_) => None,
        };
        access.problems.push(match at_same_path {
            Some((_, app_mount)) => PolicyError::ReadsAnotherVolume {
                path: path.to_string(),
                file: file.to_string(),
                sidecar_volume: own.volume.clone(),
                app_volume: app_mount.volume.clone(),
                app_mount: app_mount.describe(),
            },
            None => PolicyError::VolumeNoAppMounts {
                path: path.to_string(),
                file: file.to_string(),
                volume: own.volume.clone(),
                sub: own.describe_sub(),
            },
        });
    }

    /// A sidecar without a mount for `file` gets a read-only copy of the
    /// app's mount at that path, or a new shared volume.
    fn share_app_mount(
        &mut self,
        sidecar: &mut Value,
        path: &str,
        file: &str,
        may_change: bool,
        access: &mut Access,
    ) {
        let (app_index, app_mount) = match self.app_mount(path, file) {
            Ok(Some(found)) => found,
            Ok(None) => {
                match self.shared_volume_directory(file, may_change) {
                    Some(directory) => self.create_volume(sidecar, &directory, access),
                    None => access.problems.push(PolicyError::NoAppVolume {
                        path: path.to_string(),
                        file: file.to_string(),
                        volume: self.free_volume_name(),
                        directory: parent(file).unwrap_or("/").to_string(),
                    }),
                }
                return;
            }
            Err(ambiguous) => {
                access.problems.push(ambiguous);
                return;
            }
        };
        if may_change && self.add_volume_mounts {
            push_mount(sidecar, app_mount.read_only_copy());
            access.changes.push(Change::AddedMount {
                container: name(sidecar).to_string(),
                volume: app_mount.volume.clone(),
                mount_path: app_mount.mount_path.clone(),
            });
        } else {
            access.problems.push(PolicyError::MissingSidecarMount {
                path: path.to_string(),
                file: file.to_string(),
                mount: app_mount.read_only_copy().to_string(),
            });
        }
        if let Sub::Expr(expr) = &app_mount.sub
            && let Some(variable) = differing_variable(expr, &self.apps[app_index], sidecar)
        {
            access.problems.push(PolicyError::SubPathExprEnvMismatch {
                path: path.to_string(),
                file: file.to_string(),
                expr: expr.clone(),
                variable,
            });
        }
    }

    /// The app container and mount through which the apps write `file`:
    /// the covering mount with the longest path among all regular
    /// containers; an error when apps mount different places there.
    fn app_mount(&mut self, path: &str, file: &str) -> Result<Option<(usize, Mount)>, PolicyError> {
        let apps = &*self.apps;
        let by_dir = &self
            .app_mounts
            .get_or_insert_with(|| app_mounts(apps))
            .by_dir;
        let Some(deepest) = covering_dirs(file).find_map(|dir| by_dir.get(dir)) else {
            return Ok(None);
        };
        // Of an app's mounts at the same path, the last one counts, as in `covering`.
        let mut at_longest = deepest
            .iter()
            .enumerate()
            .filter(|(k, (app, _))| deepest.get(k + 1).is_none_or(|(next, _)| next != app))
            .map(|(_, candidate)| candidate);
        let Some(first) = at_longest.next() else {
            return Ok(None);
        };
        if let Some((_, other)) = at_longest.find(|(_, m)| !m.same_place(&first.1, file)) {
            return Err(PolicyError::AmbiguousAppVolume {
                path: path.to_string(),
                file: file.to_string(),
                first: format!("volume \"{}\"", first.1.volume),
                second: format!("volume \"{}\"", other.volume),
            });
        }
        Ok(Some(first.clone()))
    }

    /// The directory to share through a new emptyDir, when that is allowed.
    fn shared_volume_directory(&self, file: &str, may_change: bool) -> Option<String> {
        let allowed = may_change && self.may_create_volume();
        allowed.then(|| parent(file)).flatten().map(str::to_string)
    }

    fn may_create_volume(&self) -> bool {
        self.create_shared_volume && self.apps.len() == 1
    }

    fn create_volume(&mut self, sidecar: &mut Value, directory: &str, access: &mut Access) {
        let volume = self.free_volume_name();
        self.volumes.push(object([
            ("name", volume.as_str().into()),
            ("emptyDir", Value::Object(Map::new())),
        ]));
        let app = &mut self.apps[0];
        push_mount(
            app,
            object([
                ("name", volume.as_str().into()),
                ("mountPath", directory.into()),
            ]),
        );
        self.app_mounts = None;
        push_mount(
            sidecar,
            object([
                ("name", volume.as_str().into()),
                ("mountPath", directory.into()),
                ("readOnly", true.into()),
            ]),
        );
        access.changes.push(Change::CreatedVolume {
            volume: volume.clone(),
            directory: directory.to_string(),
            app: name(app).to_string(),
        });
        access.changes.push(Change::AddedMount {
            container: name(sidecar).to_string(),
            volume,
            mount_path: directory.to_string(),
        });
    }

    /// The app container that writes `file`: the one whose mount covering
    /// it has the longest path (when that is not ambiguous).
    pub fn writer(&mut self, file: &str) -> Option<&Value> {
        let (app, _) = self.app_mount("", file).ok()??;
        self.apps.get(app)
    }

    /// The pod's volumes, with any added so far.
    pub fn volumes(&self) -> &[Value] {
        self.volumes
    }

    /// Marks the apps and volumes as they are now, for a sidecar whose
    /// conversion may be abandoned.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            volumes: self.volumes.len(),
            app_mounts: self
                .may_create_volume()
                .then(|| self.apps[0].get("volumeMounts").cloned()),
        }
    }

    /// Undoes what was changed since `checkpoint`: only a new shared volume
    /// changes the apps and volumes.
    pub fn roll_back(&mut self, checkpoint: Checkpoint) {
        if self.volumes.len() == checkpoint.volumes {
            return;
        }
        self.volumes.truncate(checkpoint.volumes);
        if let (Some(saved), Some(app)) = (checkpoint.app_mounts, self.apps.first_mut())
            && let Some(app) = app.as_object_mut()
        {
            match saved {
                Some(mounts) => {
                    app.insert("volumeMounts".to_string(), mounts);
                }
                None => {
                    app.shift_remove("volumeMounts");
                }
            }
        }
        self.app_mounts = None;
    }

    /// A volume name that no volume of the pod uses yet.
    fn free_volume_name(&self) -> String {
        let taken = |candidate: &str| self.volumes.iter().any(|v| name(v) == candidate);
        (1..)
            .map(|n| match n {
                1 => "shared-logs".to_string(),
                n => format!("shared-logs-{n}"),
            })
            .find(|candidate| !taken(candidate))
            .unwrap_or_default()
    }
}

/// The directory holding `file`, unless that is `/` (which cannot be a mount).
fn parent(file: &str) -> Option<&str> {
    let (directory, _) = file.trim_end_matches('/').rsplit_once('/')?;
    (!directory.is_empty()).then_some(directory)
}

/// The first variable of a `subPathExpr` that the sidecar does not define
/// exactly as the app does, so that it would expand to another directory.
fn differing_variable(expr: &str, app: &Value, sidecar: &Value) -> Option<String> {
    let env_var = |container: &Value, variable: &str| {
        container
            .get("env")
            .and_then(Value::as_array)
            .and_then(|env| env.iter().find(|e| name(e) == variable))
            .cloned()
    };
    expr.split("$(")
        .skip(1)
        .filter_map(|part| part.split_once(')').map(|(variable, _)| variable))
        .find(|variable| env_var(app, variable) != env_var(sidecar, variable))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    fn mount(name: &str, path: &str) -> Value {
        json!({"name": name, "mountPath": path})
    }

    fn container(name: &str, mounts: Vec<Value>) -> Value {
        json!({"name": name, "volumeMounts": mounts})
    }

    struct Outcome {
        sidecar: Value,
        apps: Vec<Value>,
        volumes: Vec<Value>,
        access: Access,
    }

    fn give(
        mut apps: Vec<Value>,
        mut sidecar: Value,
        file: &str,
        may_change: bool,
        create_shared_volume: bool,
    ) -> Outcome {
        let mut volumes = vec![json!({"name": "varlog", "emptyDir": {}})];
        let mut access = Access::default();
        SharedFiles::new(&mut apps, &mut volumes, true, create_shared_volume).give_access(
            &mut sidecar,
            "spec.containers[1]",
            file,
            may_change,
            &mut access,
        );
        Outcome {
            sidecar,
            apps,
            volumes,
            access,
        }
    }

    fn messages(access: &Access) -> Vec<String> {
        access.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sidecar_without_mount_gets_the_app_volume() {
        let apps = vec![container("app", vec![mount("varlog", "/var/log")])];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            false,
        );
        assert_eq!(
            out.sidecar["volumeMounts"],
            json!([{"name": "varlog", "mountPath": "/var/log", "readOnly": true}]),
            "the sidecar should mount the app's log volume read-only at the same path"
        );
        assert_eq!(messages(&out.access), Vec::<String>::new());
        assert_eq!(out.access.changes.len(), 1, "one change reported");
    }

    #[rstest]
    #[case::sub_path_is_copied(json!({"name": "varlog", "mountPath": "/logs", "subPath": "app"}))]
    #[case::sub_path_expr_is_copied(json!({"name": "varlog", "mountPath": "/logs", "subPathExpr": "$(POD)"}))]
    fn the_added_mount_reads_the_same_sub_path(#[case] app_mount: Value) {
        let mut app = container("app", vec![app_mount.clone()]);
        app["env"] =
            json!([{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]);
        let mut sidecar = container("sidecar", vec![]);
        sidecar["env"] = app["env"].clone();
        let out = give(vec![app], sidecar, "/logs/app.log", true, false);
        let mut expected = app_mount;
        expected["readOnly"] = json!(true);
        assert_eq!(
            out.sidecar["volumeMounts"],
            json!([expected]),
            "same sub path"
        );
        assert_eq!(messages(&out.access), Vec::<String>::new());
    }

    #[test]
    fn the_longest_app_mount_decides_the_volume() {
        let apps = vec![container(
            "app",
            vec![mount("root", "/var"), mount("varlog", "/var/log/")],
        )];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            false,
        );
        assert_eq!(
            out.sidecar["volumeMounts"][0]["name"], "varlog",
            "deepest mount wins"
        );
    }

    #[test]
    fn a_sidecar_that_already_reads_the_file_is_unchanged() {
        let apps = vec![container("app", vec![mount("varlog", "/var/log")])];
        let sidecar = container("sidecar", vec![mount("varlog", "/var/log")]);
        let out = give(apps, sidecar.clone(), "/var/log/app.log", true, false);
        assert_eq!(out.sidecar, sidecar, "nothing to add");
        assert_eq!(out.access, Access::default(), "no change, no problem");
    }

    #[test]
    fn the_same_file_through_the_volume_root_is_accepted() {
        let apps = vec![container(
            "app",
            vec![json!({"name": "varlog", "mountPath": "/var/log/app", "subPath": "app"})],
        )];
        let sidecar = container("sidecar", vec![mount("varlog", "/var/log")]);
        let out = give(apps, sidecar, "/var/log/app/x.log", true, false);
        assert_eq!(out.access, Access::default(), "both see varlog/app/x.log");
    }

    #[test]
    fn a_sidecar_reading_the_apps_volume_at_another_path_needs_nothing() {
        let apps = vec![container("app", vec![mount("varlog", "/app/logs")])];
        let sidecar = container(
            "sidecar",
            vec![json!({"name": "varlog", "mountPath": "/logs-ro", "readOnly": true})],
        );
        let out = give(apps, sidecar.clone(), "/logs-ro/app.log", true, false);
        assert_eq!(out.sidecar, sidecar, "nothing to add");
        assert_eq!(out.access, Access::default(), "both see varlog/app.log");
    }

    #[test]
    fn a_place_the_app_hides_under_a_deeper_mount_is_not_the_apps_file() {
        let apps = vec![container(
            "app",
            vec![mount("varlog", "/var/log"), mount("other", "/var/log/app")],
        )];
        let sidecar = container("sidecar", vec![mount("varlog", "/logs")]);
        let out = give(apps, sidecar, "/logs/app/x.log", true, false);
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: streams /logs/app/x.log from volume \"varlog\", but no \
                 regular container sees that file through its mounts, so no app writes it there; \
                 mount volume \"varlog\" in the container that writes /logs/app/x.log, or mount here the \
                 volume that container writes it to"
            ],
            "the app writes /var/log/app/x.log to volume other"
        );
    }

    #[test]
    fn the_volume_root_where_the_app_uses_a_sub_path_is_another_file() {
        let apps = vec![container(
            "app",
            vec![json!({"name": "varlog", "mountPath": "/var/log", "subPath": "app"})],
        )];
        let sidecar = container("sidecar", vec![mount("varlog", "/var/log")]);
        let out = give(apps, sidecar, "/var/log/x.log", true, false);
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: streams /var/log/x.log from volume \"varlog\" but the app \
                 writes it to volume \"varlog\" (/var/log with subPath app): it would stream an \
                 empty file forever; mount /var/log with subPath app instead"
            ],
            "the app writes varlog/app/x.log, the sidecar reads varlog/x.log"
        );
    }

    #[test]
    fn a_sidecar_mounting_another_volume_is_refused() {
        let apps = vec![container("app", vec![mount("varlog", "/var/log")])];
        let sidecar = container("sidecar", vec![mount("other", "/var/log")]);
        let out = give(apps, sidecar, "/var/log/app.log", true, false);
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: streams /var/log/app.log from volume \"other\" but the app \
                 writes it to volume \"varlog\" (/var/log): it would stream an empty file \
                 forever; mount /var/log instead"
            ]
        );
    }

    #[test]
    fn two_apps_mounting_different_volumes_at_the_path_is_ambiguous() {
        let apps = vec![
            container("a", vec![mount("one", "/var/log")]),
            container("b", vec![mount("two", "/var/log")]),
        ];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            false,
        );
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: streams /var/log/app.log, but containers mount different \
                 volumes there (volume \"one\" and volume \"two\"); the file to stream is ambiguous"
            ]
        );
    }

    #[test]
    fn a_file_private_to_the_app_is_refused_with_the_fix() {
        let apps = vec![container("app", vec![])];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            false,
        );
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: streams /var/log/app.log, but no regular container mounts a \
                 volume there, so the file stays private to the app; add a volume (for example \
                 emptyDir {} named shared-logs) and mount it at /var/log in the app container \
                 and in this sidecar"
            ]
        );
    }

    #[test]
    fn create_shared_volume_shares_the_directory_of_a_single_app() {
        let apps = vec![container("app", vec![])];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            true,
        );
        assert_eq!(messages(&out.access), Vec::<String>::new());
        assert_eq!(
            out.volumes[1],
            json!({"name": "shared-logs", "emptyDir": {}}),
            "a new volume next to the existing one"
        );
        assert_eq!(
            out.apps[0]["volumeMounts"],
            json!([mount("shared-logs", "/var/log")])
        );
        assert_eq!(
            out.sidecar["volumeMounts"],
            json!([{"name": "shared-logs", "mountPath": "/var/log", "readOnly": true}])
        );
    }

    #[test]
    fn create_shared_volume_needs_exactly_one_app() {
        let apps = vec![container("a", vec![]), container("b", vec![])];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            true,
            true,
        );
        assert_eq!(
            out.access.problems.len(),
            1,
            "which app writes the file is unknown"
        );
        assert_eq!(out.volumes.len(), 1, "no volume created");
    }

    #[test]
    fn an_already_native_sidecar_is_checked_but_never_changed() {
        let apps = vec![container("app", vec![mount("varlog", "/var/log")])];
        let out = give(
            apps,
            container("sidecar", vec![]),
            "/var/log/app.log",
            false,
            false,
        );
        assert_eq!(out.sidecar, container("sidecar", vec![]), "left alone");
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: has no volumeMount for /var/log/app.log, so it cannot read \
                 it; add {\"name\":\"varlog\",\"mountPath\":\"/var/log\",\"readOnly\":true} to \
                 this container"
            ]
        );
    }

    #[test]
    fn sub_path_expr_needs_the_same_environment() {
        let mut app = container(
            "app",
            vec![json!({"name": "varlog", "mountPath": "/logs", "subPathExpr": "$(POD)"})],
        );
        app["env"] = json!([{"name": "POD", "value": "a"}]);
        let mut sidecar = container("sidecar", vec![]);
        sidecar["env"] = json!([{"name": "POD", "value": "b"}]);
        let out = give(vec![app], sidecar, "/logs/app.log", true, false);
        assert_eq!(
            messages(&out.access),
            vec![
                "spec.containers[1]: the app mounts /logs/app.log with subPathExpr \"$(POD)\", \
                 which uses $(POD); define env POD in this container exactly as the app does"
            ]
        );
    }

    #[test]
    fn new_volume_names_avoid_existing_ones() {
        let mut volumes = vec![
            json!({"name": "shared-logs"}),
            json!({"name": "shared-logs-2"}),
        ];
        let files = SharedFiles::new(&mut [], &mut volumes, true, true);
        assert_eq!(files.free_volume_name(), "shared-logs-3");
    }
}
