//! The forge abstraction: find, open and update pull requests.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::Result;

/// A boxed future, so [`PullRequestProvider`] is dyn-compatible without an async-trait crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A pull request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PullState {
    /// Open.
    Open,
    /// Closed (merged or not).
    Closed,
}

/// A pull request as the bot needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// State.
    pub state: PullState,
    /// Whether it was merged.
    pub merged: bool,
    /// Head branch.
    pub head: String,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
}

/// What to open or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestSpec {
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// Labels to add.
    pub labels: Vec<String>,
    /// Reviewers to request.
    pub reviewers: Vec<String>,
    /// Open as a draft.
    pub draft: bool,
}

/// A forge that hosts pull requests (GitHub first). Implementations must never put a credential
/// into an error message.
pub trait PullRequestProvider: Send + Sync {
    /// The repository's default branch; also the first call, so bad credentials stop a batch
    /// before anything is pushed.
    fn default_branch(&self) -> BoxFuture<'_, Result<String>>;

    /// Every pull request (open or closed) whose head is this branch of this repository.
    fn find<'a>(&'a self, branch: &'a str) -> BoxFuture<'a, Result<Vec<PullRequest>>>;

    /// Opens a pull request, then adds labels and requests reviewers.
    fn open<'a>(&'a self, spec: &'a PullRequestSpec) -> BoxFuture<'a, Result<PullRequest>>;

    /// Updates an open pull request's title and body, then adds labels and reviewers.
    fn update<'a>(
        &'a self,
        number: u64,
        spec: &'a PullRequestSpec,
    ) -> BoxFuture<'a, Result<PullRequest>>;
}
