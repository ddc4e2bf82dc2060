//! Git with libgit2: clone, branch from the base, commit only the changed files, push — and never
//! overwrite a commit someone else pushed to the bot's branch.
//!
//! A token for HTTPS is handed to libgit2 through the credentials callback, never in a URL, so
//! it cannot reach a log line, an error or the repository's config.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use git2::{
    BranchType, Cred, CredentialType, FetchOptions, Oid, PushOptions, RemoteCallbacks, Repository,
    ResetType, Signature,
};

use super::{GitOpsError, Result, redact};

/// A commit on the bot's branch that the bot did not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignCommit {
    /// Short id.
    pub id: String,
    /// Author name.
    pub author: String,
}

/// A clone of the repository in a temporary folder, removed on drop.
pub struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: Repository,
    token: Option<String>,
    /// The base branch name the batch works from.
    pub(crate) base_name: String,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn callbacks<'a>(token: Option<&'a str>, tries: &'a Cell<u32>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, username, allowed| {
        // libgit2 asks again after a refused credential: answer once, then give up
        tries.set(tries.get() + 1);
        if tries.get() > 1 {
            return Err(git2::Error::from_str(
                "the remote refused the credentials (check the token and its permissions)",
            ));
        }
        match token {
            Some(t) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                Cred::userpass_plaintext("x-access-token", t)
            }
            _ if allowed.contains(CredentialType::SSH_KEY) => {
                Cred::ssh_key_from_agent(username.unwrap_or("git"))
            }
            _ => Err(git2::Error::from_str(
                "the remote asks for credentials: set GITHUB_TOKEN or pass a token",
            )),
        }
    });
    cb
}

impl Workspace {
    fn err(&self, op: &str, e: git2::Error) -> GitOpsError {
        git_err(op, e, self.token.as_deref())
    }

    /// Clones a repository: a local path, a `file://` URL or an HTTPS URL (with `token` through
    /// the credentials callback).
    pub fn clone(source: &str, token: Option<&str>) -> Result<Workspace> {
        if source.contains('@') && source.starts_with("http") {
            return Err(GitOpsError::Config(
                "the repository URL must not hold credentials: pass the token separately \
                 (GITHUB_TOKEN)"
                    .to_string(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("cloudoptim-gitops-")
            .tempdir()
            .map_err(|e| GitOpsError::Git {
                op: "clone".into(),
                message: format!("cannot create a temporary folder: {e}"),
            })?;
        let root = dir.path().join("repo");
        let tries = Cell::new(0);
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks(token, &tries));
        let repo = git2::build::RepoBuilder::new()
            .fetch_options(fo)
            .clone(source, &root)
            .map_err(|e| git_err("clone", e, token))?;
        Ok(Workspace {
            _dir: dir,
            root,
            repo,
            token: token.map(str::to_string),
            base_name: String::new(),
        })
    }

    /// The working tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The remote's default branch (what `origin/HEAD` points to).
    pub fn default_branch(&self) -> Option<String> {
        let r = self.repo.find_reference("refs/remotes/origin/HEAD").ok()?;
        let target = r.symbolic_target().ok()??.to_string();
        target
            .strip_prefix("refs/remotes/origin/")
            .map(str::to_string)
    }

    /// The commit a remote branch points to, as cloned.
    pub fn remote_branch(&self, branch: &str) -> Result<Option<Oid>> {
        match self
            .repo
            .find_branch(&format!("origin/{branch}"), BranchType::Remote)
        {
            Ok(b) => Ok(b.get().target()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(self.err("branch lookup", e)),
        }
    }

    /// Resets the working tree to the base branch (removing untracked files) and returns its
    /// commit.
    pub fn checkout_base(&self, base: &str) -> Result<Oid> {
        let oid = self
            .remote_branch(base)?
            .ok_or_else(|| GitOpsError::Config(format!("the repository has no branch {base:?}")))?;
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(|e| self.err("checkout", e))?;
        self.repo
            .reset(commit.as_object(), ResetType::Hard, None)
            .map_err(|e| self.err("checkout", e))?;
        // drop files left by a previous group
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|e| self.err("status", e))?;
        for s in statuses.iter() {
            if s.status().contains(git2::Status::WT_NEW)
                && let Ok(p) = s.path()
            {
                let _ = std::fs::remove_file(self.root.join(p));
            }
        }
        Ok(oid)
    }

    /// Commits of `branch` not in `base` whose author or committer is not `bot_email`.
    pub fn foreign_commits(
        &self,
        base: Oid,
        branch: Oid,
        bot_email: &str,
    ) -> Result<Vec<ForeignCommit>> {
        let mut walk = self.repo.revwalk().map_err(|e| self.err("log", e))?;
        walk.push(branch).map_err(|e| self.err("log", e))?;
        walk.hide(base).map_err(|e| self.err("log", e))?;
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| self.err("log", e))?;
            let c = self.repo.find_commit(oid).map_err(|e| self.err("log", e))?;
            let mine = c.author().email().ok() == Some(bot_email)
                && c.committer().email().ok() == Some(bot_email);
            if !mine {
                out.push(ForeignCommit {
                    id: oid.to_string()[..8].to_string(),
                    author: c.author().name().unwrap_or("someone").to_string(),
                });
            }
        }
        Ok(out)
    }

    /// A file's text in a commit (`None`: absent or not UTF-8).
    pub fn base_text(&self, commit: Oid, rel: &str) -> Option<String> {
        let tree = self.repo.find_commit(commit).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(rel)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        String::from_utf8(blob.content().to_vec()).ok()
    }

    /// The tree of a commit.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid> {
        Ok(self
            .repo
            .find_commit(commit)
            .map_err(|e| self.err("log", e))?
            .tree_id())
    }

    /// Commits exactly these files (relative paths, as the working tree has them) on top of
    /// `parent`, with this author and committer. Nothing else in the working tree is committed.
    pub fn commit(
        &self,
        parent: Oid,
        files: &[String],
        message: &str,
        name: &str,
        email: &str,
    ) -> Result<Oid> {
        let parent = self
            .repo
            .find_commit(parent)
            .map_err(|e| self.err("commit", e))?;
        let mut index = self.repo.index().map_err(|e| self.err("commit", e))?;
        index
            .read_tree(&parent.tree().map_err(|e| self.err("commit", e))?)
            .map_err(|e| self.err("commit", e))?;
        for f in files {
            index
                .add_path(Path::new(f))
                .map_err(|e| self.err("commit", e))?;
        }
        let tree_id = index.write_tree().map_err(|e| self.err("commit", e))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(|e| self.err("commit", e))?;
        let sig = Signature::now(name, email).map_err(|e| self.err("commit", e))?;
        self.repo
            .commit(None, &sig, &sig, message, &tree, &[&parent])
            .map_err(|e| self.err("commit", e))
    }

    /// Pushes `commit` to `branch`. `expected` is what the remote branch must point to now
    /// (`None`: it must not exist); when the remote has moved since the clone, the push is
    /// refused before anything is sent — a lease, so a commit someone pushed meanwhile is never
    /// overwritten.
    pub fn push(&self, branch: &str, commit: Oid, expected: Option<Oid>) -> Result<()> {
        let refname = format!("refs/heads/{branch}");
        self.repo
            .reference(&refname, commit, true, "cloudoptim")
            .map_err(|e| self.err("push", e))?;
        let mut remote = self
            .repo
            .find_remote("origin")
            .map_err(|e| self.err("push", e))?;
        let tries = Cell::new(0);
        let rejected: std::cell::RefCell<Option<String>> = Default::default();
        let mut cb = callbacks(self.token.as_deref(), &tries);
        let want = expected.unwrap_or(Oid::ZERO_SHA1);
        cb.push_negotiation(move |updates| {
            for u in updates {
                if u.src() != want {
                    return Err(git2::Error::from_str(
                        "the remote branch changed since it was read; nothing was pushed",
                    ));
                }
            }
            Ok(())
        });
        cb.push_update_reference(|_r, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        // forced only over the bot's own commits (checked by the caller and by the lease)
        let spec = if expected.is_some() {
            format!("+{refname}:{refname}")
        } else {
            format!("{refname}:{refname}")
        };
        remote
            .push(&[spec.as_str()], Some(&mut po))
            .map_err(|e| self.err("push", e))?;
        if let Some(s) = rejected.borrow().as_ref() {
            return Err(GitOpsError::Git {
                op: "push".into(),
                message: redact(&format!("the remote rejected {branch}: {s}"), None),
            });
        }
        Ok(())
    }
}

fn git_err(op: &str, e: git2::Error, token: Option<&str>) -> GitOpsError {
    GitOpsError::Git {
        op: op.to_string(),
        message: redact(e.message(), token),
    }
}
