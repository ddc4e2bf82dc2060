//! Terraform and Terragrunt: modules, instances (roots, local module calls, Terragrunt units),
//! and an evaluator that follows `var.*`, `local.*`, module inputs, tfvars, `each.*` and
//! resource references to the literal that sets a value, keeping its byte span.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, BlockLabel, Body};

use super::repo::{FileKind, Repo};
use super::yaml::line_of;

/// Where a value is written literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub file: usize,
    pub span: Range<usize>,
    /// How the value was reached, for the explanation.
    pub via: Vec<String>,
}

/// An evaluated value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<Tv>),
    Map(Vec<(String, Tv)>),
    /// A reference to a resource (`aws_launch_template.x.id`).
    Ref(String, String),
    /// Not known from the repository, with the reason.
    Unknown(String),
}

/// A value with the place that writes it, when it is written literally.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tv {
    pub v: V,
    pub origin: Option<Origin>,
}

impl Tv {
    fn unknown(reason: impl Into<String>) -> Tv {
        Tv {
            v: V::Unknown(reason.into()),
            origin: None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Tv> {
        match &self.v {
            V::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn via(mut self, step: String) -> Tv {
        if let Some(o) = self.origin.as_mut() {
            o.via.push(step);
        }
        self
    }

    pub fn unknown_reason(&self) -> Option<&str> {
        match &self.v {
            V::Unknown(r) => Some(r),
            _ => None,
        }
    }
}

/// A Terraform module: the `.tf` files of one directory.
pub(crate) struct Module<'r> {
    pub dir: String,
    pub variables: HashMap<String, (usize, Option<&'r Expression>)>,
    pub locals: HashMap<String, (usize, &'r Expression)>,
    pub resources: Vec<(usize, &'r Block)>,
    pub data: Vec<(usize, &'r Block)>,
    pub calls: Vec<(usize, &'r Block)>,
}

/// An instance of a module: a root, a module call, or a Terragrunt unit.
pub(crate) struct Instance {
    pub module: usize,
    pub vars: HashMap<String, Tv>,
    /// `envs/prod` or `envs/prod (module.eks)`.
    pub label: String,
    locals: RefCell<HashMap<String, Tv>>,
    evaluating: RefCell<HashSet<String>>,
}

pub(crate) struct Terraform<'r> {
    pub repo: &'r Repo,
    pub modules: Vec<Module<'r>>,
    pub instances: Vec<Instance>,
}

fn label_str(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

pub(crate) fn block_labels(b: &Block) -> Vec<&str> {
    b.labels.iter().map(label_str).collect()
}

fn dir_of(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if dir.is_empty() {
        vec![]
    } else {
        dir.split('/').collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

impl<'r> Terraform<'r> {
    /// Builds modules and instances from the repository's HCL files.
    pub fn build(repo: &'r Repo) -> Terraform<'r> {
        let mut by_dir: BTreeMap<String, Module<'r>> = BTreeMap::new();
        for (idx, f) in repo.files.iter().enumerate() {
            if f.kind != FileKind::Terraform {
                continue;
            }
            let Some(body) = repo.hcl(idx) else { continue };
            let dir = dir_of(&f.rel);
            let m = by_dir.entry(dir.clone()).or_insert_with(|| Module {
                dir,
                variables: HashMap::new(),
                locals: HashMap::new(),
                resources: vec![],
                data: vec![],
                calls: vec![],
            });
            for b in body.blocks() {
                match b.ident.as_str() {
                    "variable" => {
                        if let Some(n) = b.labels.first() {
                            let def = b.body.get_attribute("default").map(|a| &a.value);
                            m.variables.insert(label_str(n).to_string(), (idx, def));
                        }
                    }
                    "locals" => {
                        for a in b.body.attributes() {
                            m.locals.insert(a.key.as_str().to_string(), (idx, &a.value));
                        }
                    }
                    "resource" => m.resources.push((idx, b)),
                    "data" => m.data.push((idx, b)),
                    "module" => m.calls.push((idx, b)),
                    _ => {}
                }
            }
        }
        let modules: Vec<Module<'r>> = by_dir.into_values().collect();
        let mut tf = Terraform {
            repo,
            modules,
            instances: vec![],
        };
        tf.instantiate();
        tf
    }

    fn module_index(&self, dir: &str) -> Option<usize> {
        self.modules.iter().position(|m| m.dir == dir)
    }

    fn call_source(&self, file: usize, b: &Block) -> Option<String> {
        let src = b.body.get_attribute("source")?.value.as_str()?;
        if src.starts_with("./") || src.starts_with("../") {
            join(&dir_of(&self.repo.files[file].rel), src)
        } else {
            None
        }
    }

    fn instantiate(&mut self) {
        // modules called by a local module call or a Terragrunt unit are not roots
        let mut called: HashSet<usize> = HashSet::new();
        for m in &self.modules {
            for (f, b) in &m.calls {
                if let Some(d) = self.call_source(*f, b).and_then(|d| self.module_index(&d)) {
                    called.insert(d);
                }
            }
        }
        let units = self.terragrunt_units();
        for (mi, _, _) in &units {
            called.insert(*mi);
        }
        let mut queue: Vec<usize> = Vec::new();
        let var_files_by_dir = self.var_files();
        for mi in 0..self.modules.len() {
            if called.contains(&mi) {
                continue;
            }
            // a root evaluated once per var file it owns, or once with automatic var files only
            let dir = self.modules[mi].dir.clone();
            let var_files = var_files_by_dir
                .get(dir.as_str())
                .map_or(&[][..], Vec::as_slice);
            let auto: Vec<usize> = var_files
                .iter()
                .filter(|(_, auto)| *auto)
                .map(|(f, _)| *f)
                .collect();
            let explicit: Vec<usize> = var_files
                .iter()
                .filter(|(_, auto)| !*auto)
                .map(|(f, _)| *f)
                .collect();
            let label = if dir.is_empty() {
                ".".to_string()
            } else {
                dir.clone()
            };
            if explicit.is_empty() {
                let vars = self.vars_from_files(mi, &auto);
                queue.push(self.push_instance(mi, vars, label));
            } else {
                for f in explicit {
                    let mut files = auto.clone();
                    files.push(f);
                    let vars = self.vars_from_files(mi, &files);
                    let l = format!("{label} with {}", self.repo.files[f].rel);
                    queue.push(self.push_instance(mi, vars, l));
                }
            }
        }
        for (mi, vars, label) in units {
            let vars = self.with_defaults(mi, vars);
            queue.push(self.push_instance(mi, vars, label));
        }
        // expand local module calls, breadth first, with a depth bound against cycles
        let mut depth = 0;
        while !queue.is_empty() && depth < 8 {
            let mut next = Vec::new();
            for inst in queue {
                let mi = self.instances[inst].module;
                let calls: Vec<(usize, &'r Block)> = self.modules[mi].calls.clone();
                for (f, b) in calls {
                    let Some(child) = self.call_source(f, b).and_then(|d| self.module_index(&d))
                    else {
                        continue;
                    };
                    let mut vars = HashMap::new();
                    let ev = Eval {
                        tf: self,
                        inst,
                        each: None,
                        depth: 0,
                    };
                    for a in b.body.attributes() {
                        let k = a.key.as_str();
                        if matches!(
                            k,
                            "source"
                                | "version"
                                | "providers"
                                | "count"
                                | "for_each"
                                | "depends_on"
                        ) {
                            continue;
                        }
                        let line = line_of(
                            &self.repo.files[f].text,
                            a.span().map(|s| s.start).unwrap_or(0),
                        );
                        let tv = ev.eval(f, &a.value).via(format!(
                            "input `{k}` of module \"{}\" ({} line {line})",
                            block_labels(b).first().copied().unwrap_or(""),
                            self.repo.files[f].rel
                        ));
                        vars.insert(k.to_string(), tv);
                    }
                    let vars = self.with_defaults(child, vars);
                    let label = format!(
                        "{} (module.{})",
                        self.instances[inst].label,
                        block_labels(b).first().copied().unwrap_or("")
                    );
                    next.push(self.push_instance(child, vars, label));
                }
            }
            queue = next;
            depth += 1;
        }
    }

    fn push_instance(&mut self, module: usize, vars: HashMap<String, Tv>, label: String) -> usize {
        self.instances.push(Instance {
            module,
            vars,
            label,
            locals: RefCell::new(HashMap::new()),
            evaluating: RefCell::new(HashSet::new()),
        });
        self.instances.len() - 1
    }

    /// `(file, automatic)` var files of every directory, in one pass over the repository.
    fn var_files(&self) -> HashMap<&'r str, Vec<(usize, bool)>> {
        let repo: &'r Repo = self.repo;
        let mut out: HashMap<&'r str, Vec<(usize, bool)>> = HashMap::new();
        for (i, f) in repo.files.iter().enumerate() {
            if f.kind != FileKind::TfVars {
                continue;
            }
            let name = f.rel.rsplit('/').next().unwrap_or("");
            let auto = name == "terraform.tfvars"
                || name == "terraform.tfvars.json"
                || name.ends_with(".auto.tfvars")
                || name.ends_with(".auto.tfvars.json");
            let dir = f.rel.rsplit_once('/').map_or("", |(d, _)| d);
            out.entry(dir).or_default().push((i, auto));
        }
        out
    }

    fn vars_from_files(&self, module: usize, files: &[usize]) -> HashMap<String, Tv> {
        let mut vars: HashMap<String, Tv> = HashMap::new();
        for &f in files {
            if let Some(body) = self.repo.hcl(f) {
                let ev = Eval {
                    tf: self,
                    inst: usize::MAX,
                    each: None,
                    depth: 0,
                };
                for a in body.attributes() {
                    let line = line_of(
                        &self.repo.files[f].text,
                        a.span().map(|s| s.start).unwrap_or(0),
                    );
                    let tv = ev
                        .eval(f, &a.value)
                        .via(format!("set in {} line {line}", self.repo.files[f].rel));
                    vars.insert(a.key.as_str().to_string(), tv);
                }
            }
        }
        self.with_defaults(module, vars)
    }

    fn with_defaults(&self, module: usize, mut vars: HashMap<String, Tv>) -> HashMap<String, Tv> {
        let m = &self.modules[module];
        for (name, (f, def)) in &m.variables {
            if vars.contains_key(name) {
                continue;
            }
            let tv = match def {
                Some(e) => {
                    let ev = Eval {
                        tf: self,
                        inst: usize::MAX,
                        each: None,
                        depth: 0,
                    };
                    ev.eval(*f, e).via(format!(
                        "the default of variable \"{name}\" in {}",
                        self.repo.files[*f].rel
                    ))
                }
                None => Tv::unknown(format!(
                    "var.{name} has no default and no value in the repository (it is set outside it: CI variables, TF_VAR_{name}, -var)"
                )),
            };
            vars.insert(name.clone(), tv);
        }
        vars
    }

    /// Terragrunt units: `terragrunt.hcl` with `terraform { source }` pointing at a local module
    /// and `inputs` (merged with included parents' inputs).
    fn terragrunt_units(&self) -> Vec<(usize, HashMap<String, Tv>, String)> {
        let mut out = Vec::new();
        for (i, f) in self.repo.files.iter().enumerate() {
            if f.kind != FileKind::Terragrunt {
                continue;
            }
            let Some(body) = self.repo.hcl(i) else {
                continue;
            };
            let dir = dir_of(&f.rel);
            let source = body
                .blocks()
                .find(|b| b.ident.as_str() == "terraform")
                .and_then(|b| b.body.get_attribute("source"))
                .and_then(|a| a.value.as_str())
                .map(|s| s.split("//").collect::<Vec<_>>().join("/"))
                .and_then(|s| join(&dir, &s));
            let Some(mi) = source.and_then(|d| self.module_index(&d)) else {
                continue;
            };
            let mut vars = HashMap::new();
            // parents first, so the unit's own inputs win
            let mut chain = vec![i];
            let mut cur = dir.clone();
            while let Some((parent, _)) = cur.rsplit_once('/') {
                for name in ["terragrunt.hcl", "root.hcl"] {
                    let p = format!("{parent}/{name}");
                    if let Some(pi) = self.repo.files.iter().position(|x| x.rel == p) {
                        chain.push(pi);
                    }
                }
                cur = parent.to_string();
            }
            let includes_parent = body.blocks().any(|b| b.ident.as_str() == "include");
            let files: Vec<usize> = if includes_parent {
                chain.into_iter().rev().collect()
            } else {
                vec![i]
            };
            for fi in files {
                let Some(b) = self.repo.hcl(fi) else { continue };
                let Some(inputs) = b.get_attribute("inputs") else {
                    continue;
                };
                let ev = Eval {
                    tf: self,
                    inst: usize::MAX,
                    each: None,
                    depth: 0,
                };
                let tv = ev.eval(fi, &inputs.value);
                if let V::Map(entries) = tv.v {
                    for (k, v) in entries {
                        let v = v.via(format!(
                            "Terragrunt input `{k}` in {}",
                            self.repo.files[fi].rel
                        ));
                        vars.insert(k, v);
                    }
                }
            }
            out.push((mi, vars, format!("{dir} (terragrunt)")));
        }
        out
    }

    /// Evaluates an expression in an instance.
    pub fn eval(&self, inst: usize, file: usize, e: &Expression) -> Tv {
        Eval {
            tf: self,
            inst,
            each: None,
            depth: 0,
        }
        .eval(file, e)
    }

    /// Evaluates with `each.key` / `each.value` bound.
    pub fn eval_each(&self, inst: usize, file: usize, e: &Expression, each: &(Tv, Tv)) -> Tv {
        Eval {
            tf: self,
            inst,
            each: Some(each),
            depth: 0,
        }
        .eval(file, e)
    }

    /// The `for_each` expansions of a resource: `None` when it has no `for_each`.
    pub fn for_each(&self, inst: usize, file: usize, b: &Block) -> Option<Vec<(Tv, Tv)>> {
        let fe = b.body.get_attribute("for_each")?;
        let tv = self.eval(inst, file, &fe.value);
        Some(match tv.v {
            V::Map(m) => m
                .into_iter()
                .map(|(k, v)| {
                    (
                        Tv {
                            v: V::Str(k),
                            origin: None,
                        },
                        v,
                    )
                })
                .collect(),
            V::List(l) => l.into_iter().map(|v| (v.clone(), v)).collect(),
            _ => vec![],
        })
    }
}

struct Eval<'a, 'r> {
    tf: &'a Terraform<'r>,
    inst: usize,
    each: Option<&'a (Tv, Tv)>,
    depth: usize,
}

impl Eval<'_, '_> {
    fn origin(&self, file: usize, e: &Expression) -> Option<Origin> {
        e.span().map(|span| Origin {
            file,
            span,
            via: vec![],
        })
    }

    fn eval(&self, file: usize, e: &Expression) -> Tv {
        if self.depth > 40 {
            return Tv::unknown("reference chain too deep");
        }
        let origin = self.origin(file, e);
        match e {
            Expression::Null(_) => Tv { v: V::Null, origin },
            Expression::Bool(b) => Tv {
                v: V::Bool(*b.value()),
                origin,
            },
            Expression::Number(n) => Tv {
                v: n.value()
                    .as_f64()
                    .map(V::Num)
                    .unwrap_or_else(|| V::Unknown("number".into())),
                origin,
            },
            Expression::String(s) => Tv {
                v: V::Str(s.value().clone()),
                origin,
            },
            Expression::Array(a) => Tv {
                v: V::List(a.iter().map(|x| self.eval(file, x)).collect()),
                origin,
            },
            Expression::Object(o) => {
                let mut m = Vec::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(x) => match self.eval(file, x).v {
                            V::Str(s) => s,
                            _ => continue,
                        },
                    };
                    m.push((key, self.eval(file, v.expr())));
                }
                Tv {
                    v: V::Map(m),
                    origin,
                }
            }
            Expression::StringTemplate(t) => {
                let mut s = String::new();
                for el in t.iter() {
                    match el {
                        hcl_edit::template::Element::Literal(l) => s.push_str(l.value()),
                        hcl_edit::template::Element::Interpolation(i) => {
                            match self.eval(file, &i.expr).v {
                                V::Str(x) => s.push_str(&x),
                                V::Num(n) => s.push_str(&n.to_string()),
                                V::Unknown(r) => return Tv::unknown(r),
                                _ => return Tv::unknown("a template interpolates a non-string"),
                            }
                        }
                        _ => return Tv::unknown("computed by a template directive"),
                    }
                }
                Tv {
                    v: V::Str(s),
                    origin: None,
                }
            }
            Expression::Parenthesis(p) => self.eval(file, p.inner()),
            Expression::Traversal(t) => self.traversal(file, &t.expr, &t.operators),
            Expression::FuncCall(f) => {
                let name = f.name.name.as_str();
                match name {
                    "toset" | "tolist" | "tomap" | "sort" if f.args.len() == 1 => {
                        match f.args.get(0) {
                            Some(a) => self.eval(file, a),
                            None => Tv::unknown("empty call"),
                        }
                    }
                    _ => Tv::unknown(format!("computed by {name}()")),
                }
            }
            Expression::Conditional(_) => Tv::unknown("chosen by a conditional expression"),
            Expression::Variable(v) => Tv::unknown(format!("bare reference `{}`", v.as_str())),
            _ => Tv::unknown("computed by an expression"),
        }
    }

    fn deeper(&self) -> Eval<'_, '_> {
        Eval {
            tf: self.tf,
            inst: self.inst,
            each: self.each,
            depth: self.depth + 1,
        }
    }

    fn traversal(
        &self,
        file: usize,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
    ) -> Tv {
        let Expression::Variable(v) = root else {
            return Tv::unknown("computed by an expression");
        };
        let attr = |i: usize| -> Option<String> {
            match ops.get(i).map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
                _ => None,
            }
        };
        let inst = self.tf.instances.get(self.inst);
        let (base, rest): (Tv, usize) = match v.as_str() {
            "var" => {
                let Some(name) = attr(0) else {
                    return Tv::unknown("var without a name");
                };
                match inst.and_then(|i| i.vars.get(&name)) {
                    Some(tv) => (tv.clone(), 1),
                    None => return Tv::unknown(format!("var.{name} is not declared here")),
                }
            }
            "local" => {
                let Some(name) = attr(0) else {
                    return Tv::unknown("local without a name");
                };
                (self.local(&name), 1)
            }
            "each" => {
                let Some(each) = self.each else {
                    return Tv::unknown("each outside for_each");
                };
                match attr(0).as_deref() {
                    Some("key") => (each.0.clone(), 1),
                    Some("value") => (each.1.clone(), 1),
                    _ => return Tv::unknown("each.?"),
                }
            }
            "data" => {
                let (Some(dtype), Some(dname), Some(a)) = (attr(0), attr(1), attr(2)) else {
                    return Tv::unknown("an incomplete data reference");
                };
                let Some(i) = inst else {
                    return Tv::unknown("data reference outside a module");
                };
                let module = &self.tf.modules[i.module];
                let found = module
                    .data
                    .iter()
                    .find(|(_, b)| block_labels(b) == [dtype.as_str(), dname.as_str()])
                    .and_then(|(f, b)| b.body.get_attribute(&a).map(|at| (*f, at)));
                match found {
                    // an argument of the data source (`name` of aws_eks_cluster) is its input
                    Some((f, at)) => (
                        self.deeper()
                            .eval(f, &at.value)
                            .via(format!("data.{dtype}.{dname}.{a}")),
                        3,
                    ),
                    None => {
                        return Tv::unknown(format!(
                            "comes from AWS at plan time (data.{dtype}.{dname}.{a})"
                        ));
                    }
                }
            }
            "module" | "path" | "terraform" | "count" | "self" | "dependency" => {
                return Tv::unknown(format!("comes from {}.*", v.as_str()));
            }
            rtype => {
                let Some(rname) = attr(0) else {
                    return Tv::unknown("resource without a name");
                };
                let Some(i) = inst else {
                    return Tv::unknown("resource reference outside a module");
                };
                let module = &self.tf.modules[i.module];
                let Some((rf, block)) = module
                    .resources
                    .iter()
                    .find(|(_, b)| block_labels(b) == [rtype, rname.as_str()])
                else {
                    return Tv::unknown(format!("{rtype}.{rname} is not in this module"));
                };
                match attr(1) {
                    Some(a) => match block.body.get_attribute(&a) {
                        Some(at) => (
                            self.deeper()
                                .eval(*rf, &at.value)
                                .via(format!("{rtype}.{rname}.{a}")),
                            2,
                        ),
                        None => (
                            Tv {
                                v: V::Ref(rtype.to_string(), rname.clone()),
                                origin: None,
                            },
                            2,
                        ),
                    },
                    None => (
                        Tv {
                            v: V::Ref(rtype.to_string(), rname.clone()),
                            origin: None,
                        },
                        1,
                    ),
                }
            }
        };
        let mut cur = base;
        for op in &ops[rest.min(ops.len())..] {
            cur = match op.value() {
                TraversalOperator::GetAttr(a) => match cur.get(a.as_str()) {
                    Some(x) => x.clone(),
                    None => match &cur.v {
                        V::Unknown(_) | V::Ref(..) => return cur,
                        _ => return Tv::unknown(format!("no attribute {}", a.as_str())),
                    },
                },
                TraversalOperator::Index(ix) => {
                    let key = self.eval(file, ix);
                    match (&cur.v, &key.v) {
                        (V::List(l), V::Num(n)) => match l.get(*n as usize) {
                            Some(x) => x.clone(),
                            None => return Tv::unknown("index out of range"),
                        },
                        (V::Map(_), V::Str(s)) => match cur.get(s) {
                            Some(x) => x.clone(),
                            None => return Tv::unknown(format!("no key {s}")),
                        },
                        _ => return Tv::unknown("computed index"),
                    }
                }
                TraversalOperator::LegacyIndex(n) => match &cur.v {
                    V::List(l) => match l.get(*n.value() as usize) {
                        Some(x) => x.clone(),
                        None => return Tv::unknown("index out of range"),
                    },
                    _ => return Tv::unknown("computed index"),
                },
                _ => return Tv::unknown("computed by a splat expression"),
            };
        }
        cur
    }

    fn local(&self, name: &str) -> Tv {
        let Some(inst) = self.tf.instances.get(self.inst) else {
            return Tv::unknown("local outside a module");
        };
        if let Some(v) = inst.locals.borrow().get(name) {
            return v.clone();
        }
        if !inst.evaluating.borrow_mut().insert(name.to_string()) {
            return Tv::unknown(format!("local.{name} refers to itself"));
        }
        let module = &self.tf.modules[inst.module];
        let tv = match module.locals.get(name) {
            Some((f, e)) => {
                let line = line_of(
                    &self.tf.repo.files[*f].text,
                    e.span().map(|s| s.start).unwrap_or(0),
                );
                Eval {
                    tf: self.tf,
                    inst: self.inst,
                    each: None,
                    depth: self.depth + 1,
                }
                .eval(*f, e)
                .via(format!(
                    "local.{name} ({} line {line})",
                    self.tf.repo.files[*f].rel
                ))
            }
            None => Tv::unknown(format!("local.{name} is not defined")),
        };
        inst.evaluating.borrow_mut().remove(name);
        inst.locals
            .borrow_mut()
            .insert(name.to_string(), tv.clone());
        tv
    }
}

/// Parses HCL, mapping errors to a message.
pub(crate) fn parse_hcl(text: &str) -> Result<Body, String> {
    hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())
}
