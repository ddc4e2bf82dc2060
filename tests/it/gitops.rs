//! GitOps end to end: pushes to real bare repositories over file://, pull requests against the
//! fake GitHub API of `cloudoptim_tests::fake_github`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cloudoptim_core::gitops::{ItemStatus, ProposeItem, ProposeOptions, ProposeReport};
use cloudoptim_core::pipeline::{self, ForgeOptions};
use cloudoptim_core::report::Filters;
use cloudoptim_tests::fake_github::FakeGitHub;
use git2::{Repository, Signature};

const TOKEN: &str = "ghp_FAKEtoken0123456789abcdefSECRET";

fn example_repo() -> PathBuf {
    cloudoptim_tests::repo_root().join("examples/gitops-repo")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A bare repository whose `main` holds the example repository.
struct Remote {
    _dir: tempfile::TempDir,
    bare: PathBuf,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("gitops.git");
        let seed = dir.path().join("seed");
        copy_tree(&example_repo(), &seed);
        let repo = Repository::init(&seed).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::now("Platform Team", "platform@acme.test").unwrap();
        let c = repo
            .commit(None, &sig, &sig, "initial", &tree, &[])
            .unwrap();
        repo.reference("refs/heads/main", c, true, "init").unwrap();
        let b = Repository::init_bare(&bare).unwrap();
        b.set_head("refs/heads/main").unwrap();
        let mut remote = repo.remote("origin", &url_of(&bare)).unwrap();
        remote
            .push(&["refs/heads/main:refs/heads/main"], None)
            .unwrap();
        Remote { _dir: dir, bare }
    }

    fn url(&self) -> String {
        url_of(&self.bare)
    }

    fn repo(&self) -> Repository {
        Repository::open_bare(&self.bare).unwrap()
    }

    fn branches(&self) -> Vec<String> {
        let r = self.repo();
        let mut out: Vec<String> = r
            .branches(Some(git2::BranchType::Local))
            .unwrap()
            .map(|b| b.unwrap().0.name().unwrap().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    fn head_of(&self, branch: &str) -> git2::Oid {
        self.repo()
            .find_reference(&format!("refs/heads/{branch}"))
            .unwrap()
            .target()
            .unwrap()
    }

    /// Commits `text` to `file` on `branch` as someone, through a clone, and pushes.
    fn commit_as(&self, branch: &str, file: &str, edit: impl Fn(&str) -> String, who: &str) {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = git2::build::RepoBuilder::new();
        builder.branch(branch);
        let repo = builder.clone(&self.url(), dir.path()).unwrap();
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(&text)).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new(file)).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = repo.head().unwrap().peel_to_commit().unwrap();
        let sig = Signature::now(who, &format!("{}@acme.test", who.to_lowercase())).unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "tweak", &tree, &[&parent])
            .unwrap();
        let mut remote = repo.find_remote("origin").unwrap();
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        remote.push(&[spec.as_str()], None).unwrap();
    }
}

fn url_of(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn shop_only() -> Filters {
    let mut f = Filters::default();
    f.include_namespaces.push("shop".into());
    f.exclude_node_groups.push("*".into());
    f
}

fn forge(fake: &FakeGitHub, token: &str) -> ForgeOptions {
    ForgeOptions::default()
        .with_github_repo("acme/gitops")
        .with_api_url(fake.url.clone())
        .with_token(token)
}

fn run(
    remote: &Remote,
    fake: &FakeGitHub,
    token: &str,
    options: &ProposeOptions,
) -> cloudoptim_core::Result<(ProposeReport, Vec<ProposeItem>)> {
    let seen = Mutex::new(Vec::new());
    let progress = |i: &ProposeItem| seen.lock().unwrap().push(i.clone());
    let r = pipeline::propose(
        &cloudoptim_core::demo::demo_cluster(),
        &shop_only(),
        &remote.url(),
        &forge(fake, token),
        options,
        Some(&progress),
    )?;
    Ok((r, seen.into_inner().unwrap()))
}

fn item<'a>(r: &'a ProposeReport, branch: &str) -> &'a ProposeItem {
    r.items
        .iter()
        .find(|i| i.branch.as_deref() == Some(branch))
        .unwrap_or_else(|| panic!("no item for {branch}: {}", r.to_json()))
}

const CHECKOUT: &str = "cloudoptim/workload-rightsizing/shop-checkout-app";

#[test]
fn opens_prs_then_updates_them_without_duplicates() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    let options = ProposeOptions::default().with_reviewers(vec!["jane".into()]);
    let (r, progress) = run(&remote, &fake, TOKEN, &options).unwrap();
    assert_eq!(progress, r.items, "the progress callback sees every item");
    assert_eq!(r.base, "main");
    let opened: Vec<&ProposeItem> = r
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Opened)
        .collect();
    // checkout (app, envoy), frontend, cart are in the example repository
    assert_eq!(opened.len(), 4, "{}", r.to_json());
    assert_eq!(fake.pulls().len(), 4);
    let co = item(&r, CHECKOUT);
    assert!(co.url.as_deref().unwrap().ends_with("/acme/gitops/pull/1") || co.url.is_some());
    assert!(
        r.items
            .iter()
            .any(|i| i.status == ItemStatus::NotFound && i.target.starts_with("shop/catalog")),
        "what the repository lacks is reported: {}",
        r.to_json()
    );
    assert!(
        r.items
            .iter()
            .any(|i| i.status == ItemStatus::NotApplicable),
        "traffic recommendations are not repository changes"
    );

    // the branch: one commit by the bot on top of main, touching only the checkout manifest
    let repo = remote.repo();
    let head = repo.find_commit(remote.head_of(CHECKOUT)).unwrap();
    assert_eq!(head.parent_id(0).unwrap(), remote.head_of("main"));
    assert_eq!(
        head.author().email().unwrap(),
        "cloudoptim@users.noreply.github.com"
    );
    let diff = repo
        .diff_tree_to_tree(
            Some(&head.parent(0).unwrap().tree().unwrap()),
            Some(&head.tree().unwrap()),
            None,
        )
        .unwrap();
    let files: Vec<String> = diff
        .deltas()
        .map(|d| d.new_file().path().unwrap().display().to_string())
        .collect();
    assert_eq!(files, ["apps/shop/checkout.yaml"]);
    assert!(
        head.message()
            .unwrap()
            .starts_with("Right-size shop/checkout (app): cpu 2 → ")
    );

    // the pull request: title, body with marker, labels and reviewers
    let pr = fake
        .pulls()
        .into_iter()
        .find(|p| p["head"]["ref"] == CHECKOUT)
        .unwrap();
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("<!-- cloudoptim:rec=co-"), "{body}");
    assert!(body.contains("`apps/shop/checkout.yaml:"), "{body}");
    assert_eq!(pr["labels"][0]["name"], "cloudoptim");
    assert_eq!(pr["requested_reviewers"][0]["login"], "jane");
    assert_eq!(pr["base"]["ref"], "main");

    // a second run: same branches, nothing new
    let posts_before = fake
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/pulls"))
        .count();
    let (again, _) = run(&remote, &fake, TOKEN, &options).unwrap();
    assert_eq!(item(&again, CHECKOUT).status, ItemStatus::UpToDate);
    assert_eq!(
        again
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::UpToDate)
            .count(),
        4
    );
    assert_eq!(fake.pulls().len(), 4, "no duplicate pull request");
    let posts_after = fake
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/pulls"))
        .count();
    assert_eq!(posts_before, posts_after);
    assert_eq!(remote.head_of(CHECKOUT), head.id(), "nothing pushed");

    // main moves on (the manifest gains a label): the bot rebuilds its branch and updates the PR
    remote.commit_as(
        "main",
        "apps/shop/checkout.yaml",
        |t| {
            t.replacen(
                "    app: checkout\n",
                "    app: checkout\n    tier: web\n",
                1,
            )
        },
        "Dev",
    );
    let (third, _) = run(&remote, &fake, TOKEN, &options).unwrap();
    assert_eq!(
        item(&third, CHECKOUT).status,
        ItemStatus::Updated,
        "{}",
        third.to_json()
    );
    assert_eq!(fake.pulls().len(), 4, "still no duplicate");
    let new_head = repo.find_commit(remote.head_of(CHECKOUT)).unwrap();
    assert_ne!(new_head.id(), head.id());
    assert_eq!(new_head.parent_id(0).unwrap(), remote.head_of("main"));
    assert!(
        fake.requests()
            .iter()
            .any(|q| q.method == "PATCH" && q.path.ends_with("/pulls/1"))
    );
}

#[test]
fn a_human_commit_on_the_branch_stops_the_bot() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    let options = ProposeOptions::default();
    run(&remote, &fake, TOKEN, &options).unwrap();
    remote.commit_as(
        CHECKOUT,
        "apps/shop/checkout.yaml",
        |t| t.replace("memory: 1153Mi", "memory: 1500Mi"),
        "Jane",
    );
    let theirs = remote.head_of(CHECKOUT);
    let (r, _) = run(&remote, &fake, TOKEN, &options).unwrap();
    let it = item(&r, CHECKOUT);
    assert_eq!(it.status, ItemStatus::BranchModified, "{}", r.to_json());
    let reason = it.reason.as_deref().unwrap();
    assert!(
        reason.contains("not made by cloudoptim") && reason.contains("by Jane"),
        "{reason}"
    );
    assert!(r.has_failures());
    assert_eq!(remote.head_of(CHECKOUT), theirs, "their commit is kept");
    // the other branches are unaffected
    assert_eq!(
        item(&r, "cloudoptim/workload-rightsizing/shop-cart-app").status,
        ItemStatus::UpToDate
    );
}

#[test]
fn a_closed_pull_request_is_not_reopened_unless_asked() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    let (r, _) = run(&remote, &fake, TOKEN, &ProposeOptions::default()).unwrap();
    let n = item(&r, CHECKOUT).number.unwrap();
    fake.close(n, false);
    let (again, _) = run(&remote, &fake, TOKEN, &ProposeOptions::default()).unwrap();
    let it = item(&again, CHECKOUT);
    assert_eq!(it.status, ItemStatus::ClosedByHuman);
    assert!(it.reason.as_deref().unwrap().contains("not reopened"));
    assert_eq!(fake.pulls().len(), 4);
    let asked = ProposeOptions::default().with_reopen_closed(true);
    let (third, _) = run(&remote, &fake, TOKEN, &asked).unwrap();
    assert_eq!(item(&third, CHECKOUT).status, ItemStatus::Opened);
    assert_eq!(fake.pulls().len(), 5);
}

#[test]
fn a_secondary_rate_limit_is_waited_out() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    fake.rate_limit_next(2);
    let t = std::time::Instant::now();
    let (r, _) = run(&remote, &fake, TOKEN, &ProposeOptions::default()).unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(item(&r, CHECKOUT).status, ItemStatus::Opened);
    let reqs = fake.requests();
    assert_eq!(reqs[0].status, 403);
    assert_eq!(reqs[1].status, 403);
    assert_eq!(reqs[2].status, 200);
    assert_eq!(reqs[0].path, reqs[2].path, "the same request is retried");
}

fn all_text_under(p: &Path, out: &mut String) {
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            all_text_under(&e.path(), out);
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
}

#[test]
fn a_bad_token_is_a_clear_error_and_nothing_is_pushed_and_no_token_leaks() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    let wrong = "ghp_WRONGtoken9876543210zyxwvuLEAK";
    let e = run(&remote, &fake, wrong, &ProposeOptions::default()).unwrap_err();
    assert_eq!(e.code(), "auth");
    let msg = pipeline::error_message(&e);
    assert!(
        msg.contains("401") && msg.contains("Bad credentials"),
        "{msg}"
    );
    assert_eq!(remote.branches(), ["main"], "no partial push");
    assert_eq!(fake.requests().len(), 1, "stopped at the first call");

    // a successful run, then every text a person could see is searched for either token
    let (r, progress) = run(&remote, &fake, TOKEN, &ProposeOptions::default()).unwrap();
    let mut seen = format!("{msg}\n{e:?}\n{}\n{progress:?}\n", r.to_json());
    for p in fake.pulls() {
        seen.push_str(&p.to_string());
    }
    let repo = remote.repo();
    for b in remote.branches() {
        let mut walk = repo.revwalk().unwrap();
        walk.push(remote.head_of(&b)).unwrap();
        for oid in walk {
            let c = repo.find_commit(oid.unwrap()).unwrap();
            seen.push_str(c.message().unwrap());
            seen.push_str(&format!("{:?} {:?}", c.author().name(), c.author().email()));
        }
    }
    all_text_under(&remote.bare, &mut seen);
    // the requests carried the token only in the Authorization header
    for q in fake.requests() {
        seen.push_str(&format!("{} {}?{} {}", q.method, q.path, q.query, q.body));
    }
    assert!(fake.requests().iter().all(|q| {
        q.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))
            || q.authorization.as_deref() == Some(&format!("Bearer {wrong}"))
    }));
    for secret in [TOKEN, wrong, "FAKEtoken", "WRONGtoken"] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

#[test]
fn a_missing_provider_token_stops_before_cloning() {
    let remote = Remote::new();
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, Some(remote.bare.clone()));
    let forge = ForgeOptions::default()
        .with_github_repo("acme/gitops")
        .with_api_url(fake.url.clone())
        .with_token("");
    let e = pipeline::propose(
        &cloudoptim_core::demo::demo_cluster(),
        &shop_only(),
        &remote.url(),
        &forge,
        &ProposeOptions::default(),
        None,
    );
    // with GITHUB_TOKEN unset in the environment this is an auth error; with it set, the fake
    // refuses it: either way nothing is pushed
    assert!(e.is_err());
    assert_eq!(remote.branches(), ["main"]);
}

#[test]
fn dry_run_on_a_folder_touches_nothing_and_groups_by_namespace() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let repo = example_repo();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "propose",
            "--demo",
            "--repo",
            repo.to_str().unwrap(),
            "--dry-run",
        ],
        &mut out,
        &mut err,
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    for needle in [
        "branch: cloudoptim/workload-rightsizing/shop-checkout-app",
        "title:  Right-size shop/checkout (app): cpu 2 → ",
        "branch: cloudoptim/node-rightsizing/general",
        "<!-- cloudoptim:rec=co-",
        "--- a/apps/shop/checkout.yaml",
        "+++ b/terraform/eks/main.tf",
        "not_found",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    // the example repository is untouched
    let manifest = std::fs::read_to_string(repo.join("apps/shop/checkout.yaml")).unwrap();
    assert!(manifest.contains("cpu: \"2\""));

    let mut out = Vec::new();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "propose",
            "--demo",
            "--repo",
            repo.to_str().unwrap(),
            "--dry-run",
            "--group",
            "namespace",
            "--format",
            "json",
        ],
        &mut out,
        &mut Vec::new(),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["dry_run"], true);
    let shop = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["branch"] == "cloudoptim/namespace/shop")
        .expect("one pull request for the shop namespace");
    assert_eq!(shop["status"], "dry_run");
    assert_eq!(shop["recommendation_ids"].as_array().unwrap().len(), 4);
    let body = shop["body"].as_str().unwrap();
    assert_eq!(cloudoptim_core::gitops::parse_markers(body).len(), 4);
    let diff = shop["diff"].as_str().unwrap();
    assert!(
        diff.contains("--- a/apps/shop/checkout.yaml")
            && diff.contains("--- a/apps/shop/cart.yaml")
    );
    // two containers of one file in one diff
    assert_eq!(diff.matches("--- a/apps/shop/checkout.yaml").count(), 1);
}

#[test]
fn the_cli_needs_a_repository_name_for_file_urls() {
    let remote = Remote::new();
    let mut err = Vec::new();
    let code = cloudoptim_cli::run_with(
        ["cloudoptim", "propose", "--demo", "--repo", &remote.url()],
        &mut Vec::new(),
        &mut err,
    );
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("--github-repo"), "{err}");
    assert_eq!(remote.branches(), ["main"]);
}

#[test]
fn a_422_already_exists_updates_the_open_pull_request() {
    use cloudoptim_core::gitops::github::{GitHubConfig, GitHubProvider};
    use cloudoptim_core::gitops::{PullRequestProvider, PullRequestSpec};
    let fake = FakeGitHub::start("acme", "gitops", TOKEN, None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let p = GitHubProvider::new(
            GitHubConfig::new("acme", "gitops")
                .with_api_url(fake.url.clone())
                .with_token(TOKEN),
        )
        .unwrap();
        let mut spec = PullRequestSpec {
            head: "cloudoptim/x/y".into(),
            base: "main".into(),
            title: "first".into(),
            body: "b".into(),
            labels: vec!["cost".into()],
            reviewers: vec![],
            draft: true,
        };
        let a = p.open(&spec).await.unwrap();
        spec.title = "second".into();
        // another run opened it meanwhile: GitHub answers 422, the open one is updated
        let b = p.open(&spec).await.unwrap();
        assert_eq!(a.number, b.number);
        assert_eq!(b.title, "second");
        let found = p.find("cloudoptim/x/y").await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(p.find("cloudoptim/other").await.unwrap().is_empty());
    });
    let statuses: Vec<u16> = fake.requests().iter().map(|q| q.status).collect();
    assert!(statuses.contains(&422), "{statuses:?}");
    assert_eq!(fake.pulls()[0]["draft"], true);
    assert_eq!(fake.pulls()[0]["labels"][0]["name"], "cost");
}
