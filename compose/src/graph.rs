//! The dependency graph of a project: start order, stop order, the sets that can start in
//! parallel, and cycles named service by service.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graphmap::DiGraphMap;

use crate::model::Project;

/// Services and their dependencies (`depends_on`, after normalisation made links,
/// `volumes_from` and `service:` namespaces explicit). An edge goes from a service to a
/// service it depends on.
#[derive(Debug, Clone)]
pub struct Graph<'p> {
    graph: DiGraphMap<&'p str, ()>,
}

/// A dependency cycle, as the list of services along it (the first repeated at the end).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle detected: {}", .0.join(" -> "))]
pub struct Cycle(pub Vec<String>);

impl<'p> Graph<'p> {
    /// Builds the graph of the enabled services; dependencies on services that are not in the
    /// project (disabled by a profile, or optional and missing) are left out.
    pub fn new(project: &'p Project) -> Self {
        let mut graph = DiGraphMap::new();
        for name in project.services.keys() {
            graph.add_node(name.as_str());
        }
        for (name, service) in &project.services {
            for dep in service.depends_on.keys() {
                if let Some((dep, _)) = project.services.get_key_value(dep) {
                    graph.add_edge(name.as_str(), dep.as_str(), ());
                }
            }
        }
        Graph { graph }
    }

    /// The first cycle found, walking services in name order.
    pub fn find_cycle(&self) -> Option<Cycle> {
        let mut done = BTreeSet::new();
        let mut nodes: Vec<&str> = self.graph.nodes().collect();
        nodes.sort_unstable();
        for start in nodes {
            let mut stack = Vec::new();
            let mut on_stack = BTreeSet::new();
            if let Some(cycle) = self.visit(start, &mut stack, &mut on_stack, &mut done) {
                return Some(cycle);
            }
        }
        None
    }

    fn visit(
        &self,
        node: &'p str,
        stack: &mut Vec<&'p str>,
        on_stack: &mut BTreeSet<&'p str>,
        done: &mut BTreeSet<&'p str>,
    ) -> Option<Cycle> {
        if on_stack.contains(node) {
            let i = stack.iter().position(|n| *n == node).unwrap_or(0);
            let mut cycle: Vec<String> = stack[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(Cycle(cycle));
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node);
        on_stack.insert(node);
        let mut next: Vec<&str> = self.graph.neighbors(node).collect();
        next.sort_unstable();
        for dep in next {
            if let Some(cycle) = self.visit(dep, stack, on_stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        on_stack.remove(node);
        done.insert(node);
        None
    }

    /// Groups of services that can start together: every service comes after all of its
    /// dependencies, in the earliest group possible. Names are sorted within a group.
    pub fn levels(&self) -> Result<Vec<Vec<String>>, Cycle> {
        if let Some(cycle) = self.find_cycle() {
            return Err(cycle);
        }
        let mut level: BTreeMap<&str, usize> = BTreeMap::new();
        let mut nodes: Vec<&str> = self.graph.nodes().collect();
        nodes.sort_unstable();
        for node in &nodes {
            self.level_of(node, &mut level);
        }
        let depth = level.values().copied().max().map_or(0, |d| d + 1);
        let mut out = vec![Vec::new(); depth];
        for (node, l) in level {
            out[l].push(node.to_string());
        }
        Ok(out)
    }

    fn level_of(&self, node: &'p str, memo: &mut BTreeMap<&'p str, usize>) -> usize {
        if let Some(l) = memo.get(node) {
            return *l;
        }
        let l = self.graph.neighbors(node).map(|d| self.level_of(d, memo) + 1).max().unwrap_or(0);
        memo.insert(node, l);
        l
    }

    /// Dependencies first.
    pub fn start_order(&self) -> Result<Vec<String>, Cycle> {
        Ok(self.levels()?.into_iter().flatten().collect())
    }

    /// Dependents first: the reverse of the start order.
    pub fn stop_order(&self) -> Result<Vec<String>, Cycle> {
        let mut order = self.start_order()?;
        order.reverse();
        Ok(order)
    }

    /// The services that depend on `service`, directly or not.
    pub fn dependents(&self, service: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![service];
        while let Some(s) = todo.pop() {
            for dependent in self.graph.neighbors_directed(s, petgraph::Direction::Incoming) {
                if out.insert(dependent.to_string()) {
                    todo.push(dependent);
                }
            }
        }
        out
    }
}

/// The services to restart with `of` (`depends_on` entries with `restart: true`, followed
/// through dependents that have them too), not counting `of` itself.
pub fn restart_dependents(project: &Project, of: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<&str> = of.iter().map(String::as_str).collect();
    while let Some(s) = todo.pop() {
        for (name, service) in &project.services {
            let restarts = service.depends_on.get(s).is_some_and(|d| d.restart);
            if restarts && !of.contains(name) && out.insert(name.clone()) {
                todo.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dependency, Service};

    #[test]
    fn dependents_with_restart_true_follow_their_dependency() {
        let mut p = project(&[("web", &["api"]), ("api", &["db"]), ("db", &[]), ("worker", &["db"])]);
        for (service, on) in [("api", "db"), ("web", "api")] {
            let deps = &mut p.services.get_mut(service).expect("a service").depends_on;
            deps.get_mut(on).expect("a dependency").restart = true;
        }
        let got = |of: &[&str]| -> Vec<String> {
            restart_dependents(&p, &of.iter().map(|s| s.to_string()).collect::<Vec<_>>()).into_iter().collect()
        };
        assert_eq!(got(&["db"]), ["api", "web"], "worker's dependency has no restart: true");
        assert_eq!(got(&["api"]), ["web"]);
        assert_eq!(got(&["db", "api"]), ["web"]);
        assert!(got(&["web"]).is_empty());
    }

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let mut s = Service::default();
            for d in *deps {
                s.depends_on.insert(d.to_string(), Dependency::default());
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    #[test]
    fn orders_and_levels() {
        let p =
            project(&[("web", &["api", "cache"]), ("api", &["db"]), ("db", &[]), ("cache", &[]), ("worker", &["db"])]);
        let g = Graph::new(&p);
        assert_eq!(g.levels().expect("acyclic"), vec![vec!["cache", "db"], vec!["api", "worker"], vec!["web"]]);
        assert_eq!(g.stop_order().expect("acyclic").first().map(String::as_str), Some("web"));
        assert_eq!(g.dependents("db").into_iter().collect::<Vec<_>>(), ["api", "web", "worker"]);
    }

    #[test]
    fn names_the_cycle() {
        let p = project(&[
            ("service1", &["service2"]),
            ("service2", &["service3"]),
            ("service3", &["service1"]),
            ("x", &[]),
        ]);
        let err = Graph::new(&p).levels().expect_err("cycle");
        assert_eq!(err.to_string(), "dependency cycle detected: service1 -> service2 -> service3 -> service1");
    }
}
