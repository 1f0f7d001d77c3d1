//! The CRWI digraph and its strongly connected components (algorithms.md §8.2–§8.3).
//!
//! Why CSR arrays: a 100 GiB file at 8 KiB blocks is ~12 M copies; adjacency as `Vec<Vec<_>>` would
//! cost an allocation per node. Edges are numbered by their position in the out-edge array, so the
//! cycle breaker can keep one liveness bit per edge and reach it from both ends.
//!
//! Why iterative Tarjan: a 1-byte insert at offset 0 turns every copy into one long chain; a
//! recursive DFS would overflow the stack on large files.

use super::Copy;

pub(super) struct Graph {
    /// Out-edges of node u are `out_tgt[out_start[u]..out_start[u + 1]]`; an edge's id is its index.
    pub out_start: Vec<u32>,
    pub out_tgt: Vec<u32>,
    /// Source node of each edge id.
    pub edge_src: Vec<u32>,
    /// In-edges of node v are the edge ids `in_edge[in_start[v]..in_start[v + 1]]`.
    pub in_start: Vec<u32>,
    pub in_edge: Vec<u32>,
}

impl Graph {
    /// Edge u → v when u reads bytes v writes (u ≠ v). `nodes` must be sorted by `dst` with disjoint
    /// destinations, so their ends are sorted too and the first write overlapping a read interval is
    /// found by binary search: O(n log n + |E|).
    pub fn build(nodes: &[Copy]) -> Graph {
        let n = nodes.len();
        assert!(n < u32::MAX as usize, "too many copies for one file");
        let mut out_start = Vec::with_capacity(n + 1);
        let mut out_tgt: Vec<u32> = Vec::with_capacity(n);
        let mut edge_src: Vec<u32> = Vec::with_capacity(n);
        for (u, c) in nodes.iter().enumerate() {
            out_start.push(out_tgt.len() as u32);
            let (rs, re) = (c.src, c.src + c.len);
            let mut v = nodes.partition_point(|w| w.dst + w.len <= rs);
            while v < n && nodes[v].dst < re {
                if v != u {
                    out_tgt.push(v as u32);
                    edge_src.push(u as u32);
                }
                v += 1;
            }
            assert!(out_tgt.len() < u32::MAX as usize, "too many dependencies");
        }
        out_start.push(out_tgt.len() as u32);
        Graph::with_in_edges(n, out_start, out_tgt, edge_src)
    }

    /// Complete a graph given as out-edge lists with its in-edge index (counting sort on the
    /// target).
    fn with_in_edges(
        n: usize,
        out_start: Vec<u32>,
        out_tgt: Vec<u32>,
        edge_src: Vec<u32>,
    ) -> Graph {
        let mut in_start = vec![0u32; n + 1];
        for &t in &out_tgt {
            in_start[t as usize + 1] += 1;
        }
        for i in 0..n {
            in_start[i + 1] += in_start[i];
        }
        let mut fill = in_start.clone();
        let mut in_edge = vec![0u32; out_tgt.len()];
        for (e, &t) in out_tgt.iter().enumerate() {
            in_edge[fill[t as usize] as usize] = e as u32;
            fill[t as usize] += 1;
        }
        Graph {
            out_start,
            out_tgt,
            edge_src,
            in_start,
            in_edge,
        }
    }

    pub fn node_count(&self) -> usize {
        self.out_start.len() - 1
    }

    pub fn edge_count(&self) -> usize {
        self.out_tgt.len()
    }

    /// Edge ids leaving `u`.
    pub fn outs(&self, u: u32) -> std::ops::Range<usize> {
        self.out_start[u as usize] as usize..self.out_start[u as usize + 1] as usize
    }

    /// Edge ids entering `v`.
    pub fn ins(&self, v: u32) -> &[u32] {
        &self.in_edge[self.in_start[v as usize] as usize..self.in_start[v as usize + 1] as usize]
    }
}

/// Strongly connected components, numbered in Tarjan's emission order (sinks first: when an edge
/// goes from component a to component b ≠ a, then b < a).
pub(super) struct Sccs {
    pub comp: Vec<u32>,
    start: Vec<u32>,
    members: Vec<u32>,
}

impl Sccs {
    pub fn count(&self) -> usize {
        self.start.len() - 1
    }

    pub fn members(&self, c: usize) -> &[u32] {
        &self.members[self.start[c] as usize..self.start[c + 1] as usize]
    }
}

pub(super) fn sccs(g: &Graph) -> Sccs {
    const UNSEEN: u32 = u32::MAX;
    struct Dfs {
        index: Vec<u32>,
        low: Vec<u32>,
        on_stack: Vec<bool>,
        stack: Vec<u32>,
        call: Vec<(u32, usize)>, // (node, next out-edge id)
        next: u32,
    }
    impl Dfs {
        fn visit(&mut self, g: &Graph, v: u32) {
            self.index[v as usize] = self.next;
            self.low[v as usize] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v as usize] = true;
            self.call.push((v, g.out_start[v as usize] as usize));
        }
    }
    let n = g.node_count();
    let mut d = Dfs {
        index: vec![UNSEEN; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        call: Vec::new(),
        next: 0,
    };
    let mut comp = vec![0u32; n];
    let mut start = vec![0u32];
    let mut members = Vec::with_capacity(n);
    for root in 0..n as u32 {
        if d.index[root as usize] != UNSEEN {
            continue;
        }
        d.visit(g, root);
        while let Some(&(v, pos)) = d.call.last() {
            let v = v as usize;
            if pos < g.out_start[v + 1] as usize {
                d.call.last_mut().expect("frame").1 += 1;
                let w = g.out_tgt[pos];
                if d.index[w as usize] == UNSEEN {
                    d.visit(g, w);
                } else if d.on_stack[w as usize] {
                    d.low[v] = d.low[v].min(d.index[w as usize]);
                }
                continue;
            }
            d.call.pop();
            if let Some(&(p, _)) = d.call.last() {
                d.low[p as usize] = d.low[p as usize].min(d.low[v]);
            }
            if d.low[v] == d.index[v] {
                let c = start.len() as u32 - 1;
                loop {
                    let w = d.stack.pop().expect("tarjan stack");
                    d.on_stack[w as usize] = false;
                    comp[w as usize] = c;
                    members.push(w);
                    if w as usize == v {
                        break;
                    }
                }
                start.push(members.len() as u32);
            }
        }
    }
    Sccs {
        comp,
        start,
        members,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A graph from an explicit edge list (for hand-made shapes that copies cannot easily express).
    pub fn from_edges(n: usize, edges: &[(u32, u32)]) -> Graph {
        let mut e = edges.to_vec();
        e.sort_unstable();
        let mut out_start = vec![0u32; n + 1];
        for &(u, _) in &e {
            out_start[u as usize + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
        }
        let out_tgt: Vec<u32> = e.iter().map(|x| x.1).collect();
        let edge_src: Vec<u32> = e.iter().map(|x| x.0).collect();
        Graph::with_in_edges(n, out_start, out_tgt, edge_src)
    }

    fn groups(s: &Sccs) -> Vec<Vec<u32>> {
        let mut v: Vec<Vec<u32>> = (0..s.count())
            .map(|c| {
                let mut m = s.members(c).to_vec();
                m.sort_unstable();
                m
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn crwi_edges_follow_read_write_overlap() {
        // 0: writes [0,10) reads [10,20)  → reads what 1 writes
        // 1: writes [10,20) reads [5,15)  → reads what 0 and 1 write (self overlap is no edge)
        // 2: writes [20,30) reads [40,50) → reads nothing anybody writes
        let nodes = [
            Copy {
                dst: 0,
                src: 10,
                len: 10,
            },
            Copy {
                dst: 10,
                src: 5,
                len: 10,
            },
            Copy {
                dst: 20,
                src: 40,
                len: 10,
            },
        ];
        let g = Graph::build(&nodes);
        let edges: Vec<(u32, u32)> = (0..g.edge_count())
            .map(|e| (g.edge_src[e], g.out_tgt[e]))
            .collect();
        assert_eq!(edges, vec![(0, 1), (1, 0)]);
        assert_eq!(g.ins(0), &[1]);
        assert_eq!(g.ins(1), &[0]);
        assert!(g.ins(2).is_empty());
    }

    #[test]
    fn tarjan_finds_components_in_reverse_topological_order() {
        // 0 → 1 → 2 → 0 (cycle), 2 → 3, 3 → 4 → 3 (cycle), 5 alone, 4 → 5
        let g = from_edges(6, &[(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3), (4, 5)]);
        let s = sccs(&g);
        assert_eq!(groups(&s), vec![vec![0, 1, 2], vec![3, 4], vec![5]]);
        // Every edge between components goes from a later to an earlier component.
        for e in 0..g.edge_count() {
            let (a, b) = (
                s.comp[g.edge_src[e] as usize],
                s.comp[g.out_tgt[e] as usize],
            );
            assert!(a >= b, "edge {e}: comp {a} -> {b}");
        }
    }

    #[test]
    fn tarjan_handles_a_million_node_chain_and_ring() {
        let n = 1_000_000u32;
        let chain: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let s = sccs(&from_edges(n as usize, &chain));
        assert_eq!(s.count(), n as usize);
        let mut ring = chain;
        ring.push((n - 1, 0));
        let s = sccs(&from_edges(n as usize, &ring));
        assert_eq!(s.count(), 1);
        assert_eq!(s.members(0).len(), n as usize);
    }

    #[test]
    fn tarjan_two_rings_sharing_a_node() {
        let g = from_edges(5, &[(0, 1), (1, 0), (1, 2), (2, 3), (3, 1), (4, 4)]);
        let s = sccs(&g);
        assert_eq!(groups(&s), vec![vec![0, 1, 2, 3], vec![4]]);
    }
}
