//! The process-wide table of cores claimed by running pools (see [`CoreClaim`]).

/// Workers pinned to each core by the pools running now, process-wide.
static CLAIMS: std::sync::Mutex<std::collections::BTreeMap<usize, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The cores one pool's workers are pinned to, taken from the process-wide count of pinned
/// workers per core and given back when dropped.
///
/// Pools that run at the same time (the BGZF inflaters and the BAM decoders, say) get disjoint
/// cores while the machine has enough: each worker takes the core with the fewest workers
/// pinned to it, the first in topology order among equals — so a pool fills one NUMA node
/// before the next, and on a 16-core machine a BAM read's inflaters and decoders do not share
/// cores 0–1 while 2–15 idle. With more workers than cores they share evenly.
#[derive(Debug)]
pub(crate) struct CoreClaim {
    pub(super) cores: Vec<usize>,
}

impl CoreClaim {
    /// Claims `n` cores of `order` (topology order).
    pub(crate) fn new(order: &[usize], n: usize) -> Self {
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        let cores = choose_cores(order, &claims, n);
        for &c in &cores {
            *claims.entry(c).or_default() += 1;
        }
        Self { cores }
    }
}

impl Drop for CoreClaim {
    fn drop(&mut self) {
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        for c in &self.cores {
            if let Some(k) = claims.get_mut(c) {
                *k -= 1;
                if *k == 0 {
                    claims.remove(c);
                }
            }
        }
    }
}

/// `n` cores of `order` for one pool, given how many workers are pinned to each already: each
/// worker the least-claimed core (counting this pool's own picks), the earliest in `order`
/// among equals. Empty when `order` is.
fn choose_cores(
    order: &[usize],
    claimed: &std::collections::BTreeMap<usize, usize>,
    n: usize,
) -> Vec<usize> {
    let mut load: Vec<usize> = order
        .iter()
        .map(|c| claimed.get(c).copied().unwrap_or(0))
        .collect();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Some((i, _)) = load.iter().enumerate().min_by_key(|&(i, &l)| (l, i)) else {
            break;
        };
        load[i] += 1;
        out.push(order[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_pools_get_disjoint_cores_node_by_node() {
        // Two nodes of 8 cores, listed node by node as Topology::cores gives them.
        let order: Vec<usize> = (0..16).collect();
        let mut claimed = std::collections::BTreeMap::new();
        let mut take = |n: usize| {
            let cores = choose_cores(&order, &claimed, n);
            for &c in &cores {
                *claimed.entry(c).or_default() += 1;
            }
            cores
        };
        let inflate = take(2);
        let decode = take(2);
        assert_eq!(inflate, vec![0, 1]);
        assert_eq!(
            decode,
            vec![2, 3],
            "the second pool does not share the first's cores"
        );
        let big = take(7);
        assert_eq!(
            big,
            (4..11).collect::<Vec<_>>(),
            "node 0 first, then node 1"
        );
        // Oversubscribed: 5 cores left, 8 workers: the free ones first, then the least loaded.
        let over = take(8);
        assert_eq!(over, vec![11, 12, 13, 14, 15, 0, 1, 2]);
        let max = claimed.values().max().copied();
        assert_eq!(
            max,
            Some(2),
            "no core gets a third worker while others have one"
        );
        assert!(choose_cores(&[], &claimed, 3).is_empty());
    }

    #[test]
    fn claims_are_given_back() {
        // The process-wide table: other tests may hold claims meanwhile, so compare counts.
        let order = [1_000_001, 1_000_002];
        let count = |c: usize| CLAIMS.lock().expect("lock").get(&c).copied().unwrap_or(0);
        let a = CoreClaim::new(&order, 1);
        let b = CoreClaim::new(&order, 1);
        assert_eq!(a.cores.len(), 1);
        assert_ne!(a.cores, b.cores, "two live pools, two cores");
        drop(a);
        drop(b);
        assert_eq!((count(1_000_001), count(1_000_002)), (0, 0));
    }
}
