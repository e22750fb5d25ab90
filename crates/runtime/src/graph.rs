//! CUDA graphs: record a sequence of (typed) launches once, replay it with one driver call.
//!
//! Launching kernels one by one costs a few microseconds of CPU and driver time each; a graph
//! submits the whole sequence at once and the GPU walks it with far less overhead per kernel.
//! Graphs are made by *stream capture*: the closure given to [`Graph::capture`] issues ordinary
//! typed launches on the capturing stream, which are recorded instead of run. Arguments change
//! between replays by capturing again with the new arguments and updating the instantiated
//! graph in place ([`Graph::update`], `cuGraphExecUpdate`): much cheaper than instantiating,
//! and the topology (kernels, order) must stay the same.
use crate::context::Context;
use crate::result::{Call, Error, Result};
use crate::stream::Stream;
use crate::sys::{self, CUgraph, CUgraphExec, CUstreamCaptureMode};
use std::sync::Arc;

/// A captured, instantiated graph, ready to replay on any stream of its context. Keeps the
/// context alive.
pub struct Graph {
    graph: CUgraph,
    exec: CUgraphExec,
    ctx: Arc<Context>,
    nodes: usize,
}

// SAFETY: graph handles may be used from any thread (the runtime binds the context); the
// driver requires external synchronisation only for concurrent mutation, which takes `&mut`.
unsafe impl Send for Graph {}
// SAFETY: as above.
unsafe impl Sync for Graph {}

/// Run `record` with `stream` in capture mode and return the captured graph. Capture is ended
/// even when `record` fails, so the stream stays usable.
fn capture_raw(stream: &Stream, record: impl FnOnce(&Stream) -> Result<()>) -> Result<CUgraph> {
    // Thread-local mode: other threads may keep using the driver (even unsafe-in-capture calls)
    // while this thread captures.
    // SAFETY: live stream.
    unsafe {
        sys::cuStreamBeginCapture_v2(
            stream.raw(),
            CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
        )
    }
    .call("cuStreamBeginCapture")?;
    let recorded = record(stream);
    let mut graph: CUgraph = std::ptr::null_mut();
    // SAFETY: valid out-pointer; the stream is capturing.
    let ended =
        unsafe { sys::cuStreamEndCapture(stream.raw(), &mut graph) }.call("cuStreamEndCapture");
    let destroy = |g: CUgraph| {
        if !g.is_null() {
            // SAFETY: a graph returned by capture, destroyed once.
            unsafe { sys::cuGraphDestroy(g) };
        }
    };
    if let Err(e) = recorded {
        destroy(graph);
        return Err(e);
    }
    if let Err(e) = ended {
        destroy(graph);
        return Err(e);
    }
    Ok(graph)
}

fn node_count(graph: CUgraph) -> Result<usize> {
    let mut n = 0usize;
    // SAFETY: a null node array asks for the count only.
    unsafe { sys::cuGraphGetNodes(graph, std::ptr::null_mut(), &mut n) }.call("cuGraphGetNodes")?;
    Ok(n)
}

fn instantiate(graph: CUgraph) -> Result<CUgraphExec> {
    let mut exec: CUgraphExec = std::ptr::null_mut();
    // SAFETY: valid graph and out-pointer; no flags.
    unsafe { sys::cuGraphInstantiateWithFlags(&mut exec, graph, 0) }
        .call("cuGraphInstantiateWithFlags")?;
    Ok(exec)
}

impl Graph {
    /// Capture the work `record` queues on `stream` (typed launches, copies, pool
    /// allocations) and instantiate it. Nothing runs until [`Graph::launch`].
    ///
    /// # Safety
    /// The graph holds the raw device addresses and kernel handles the captured work used:
    /// every buffer it touches, and every kernel it launches (its [`crate::KernelFn`], which
    /// keeps the module loaded), must stay alive for as long as the graph may be replayed (or
    /// until an [`Graph::update`] replaces them).
    pub unsafe fn capture(
        stream: &Stream,
        record: impl FnOnce(&Stream) -> Result<()>,
    ) -> Result<Graph> {
        let ctx = stream.context().clone();
        ctx.bind()?;
        let graph = capture_raw(stream, record)?;
        let built = node_count(graph).and_then(|n| {
            check_not_empty(n)?;
            Ok((n, instantiate(graph)?))
        });
        match built {
            Ok((nodes, exec)) => Ok(Graph {
                graph,
                exec,
                ctx,
                nodes,
            }),
            Err(e) => {
                // SAFETY: captured above, destroyed once.
                unsafe { sys::cuGraphDestroy(graph) };
                Err(e)
            }
        }
    }

    /// Nodes in the graph (one per captured kernel, copy, memset, ...).
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// Queue one replay of the whole graph on `stream`.
    pub fn launch(&self, stream: &Stream) -> Result<()> {
        self.ctx.bind()?;
        // SAFETY: live exec and stream (the buffer contract is `capture`'s).
        unsafe { sys::cuGraphLaunch(self.exec, stream.raw()) }.call("cuGraphLaunch")
    }

    /// Replace the arguments (buffers, scalars, launch configurations) of the instantiated
    /// graph: `record` must queue the same sequence of operations as the original capture,
    /// with new arguments. Uses `cuGraphExecUpdate`; when the driver refuses the update (the
    /// topology changed), the new capture is instantiated instead, so the call still succeeds.
    /// Queued replays are unaffected; later ones use the new arguments.
    ///
    /// # Safety
    /// As for [`Graph::capture`], for the buffers the new capture touches.
    pub unsafe fn update(
        &mut self,
        stream: &Stream,
        record: impl FnOnce(&Stream) -> Result<()>,
    ) -> Result<()> {
        self.ctx.bind()?;
        let graph = capture_raw(stream, record)?;
        let mut error_node: sys::CUgraphNode = std::ptr::null_mut();
        // The driver writes a CUgraphExecUpdateResult: read it as a plain integer, since newer
        // drivers know values the bindings' enum does not.
        let mut result: i32 = -1;
        // SAFETY: valid handles and out-pointers (an i32 has the enum's size and alignment).
        let r = unsafe {
            sys::cuGraphExecUpdate(
                self.exec,
                graph,
                &mut error_node,
                &mut result as *mut i32 as *mut sys::CUgraphExecUpdateResult,
            )
        };
        let nodes = node_count(graph);
        if r == sys::CUresult::CUDA_SUCCESS && result == 0 {
            // SAFETY: the old graph is no longer needed: the exec keeps its own copy.
            unsafe { sys::cuGraphDestroy(self.graph) };
            self.graph = graph;
            self.nodes = nodes?;
            return Ok(());
        }
        // Fall back: instantiate the new capture.
        let exec = match nodes.and_then(|_| instantiate(graph)) {
            Ok(e) => e,
            Err(e) => {
                // SAFETY: captured above, destroyed once.
                unsafe { sys::cuGraphDestroy(graph) };
                return Err(e);
            }
        };
        // SAFETY: the old exec and graph are replaced; replays already queued keep their own
        // reference in the driver.
        unsafe {
            sys::cuGraphExecDestroy(self.exec);
            sys::cuGraphDestroy(self.graph);
        }
        self.exec = exec;
        self.graph = graph;
        self.nodes = node_count(graph)?;
        Ok(())
    }

    /// The raw executable graph.
    pub fn raw_exec(&self) -> CUgraphExec {
        self.exec
    }
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("nodes", &self.nodes).finish()
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        let _ = self.ctx.bind();
        // SAFETY: owned handles, destroyed once.
        unsafe {
            sys::cuGraphExecDestroy(self.exec);
            sys::cuGraphDestroy(self.graph);
        }
    }
}

/// `Err` for an empty capture (nothing to replay): a likely mistake, e.g. work launched on
/// another stream than the capturing one.
pub fn check_not_empty(nodes: usize) -> Result<()> {
    if nodes == 0 {
        return Err(Error::InvalidArgument {
            op: "Graph::capture".into(),
            reason: "nothing was captured: launch on the stream passed to the closure".into(),
        });
    }
    Ok(())
}
