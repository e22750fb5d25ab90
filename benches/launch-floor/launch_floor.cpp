// Where the host cost of a small launch goes, measured at the CUDA driver API (no gpukit code):
// the figure runtime-bench calls "launch direct" (N launches of a small kernel, then one
// synchronize; best of 5) for each variant below, repeated in interleaved rounds so the
// spread between rounds is visible next to the differences between variants.
//
//   nvcc -cubin -arch=sm_90 -o kernels.cubin kernels.cu
//   nvcc -O2 -o launch_floor launch_floor.cpp -lcuda
//   ./launch_floor [auto|spin|yield|block] [rounds] [pinned-cpu or -1]
//
// The first argument is the primary context's scheduling flag (it changes how the final
// synchronize waits); the third pins the thread to one CPU (-1: not pinned).
#include <cuda.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CK(x)                                                                  \
    do {                                                                       \
        CUresult r_ = (x);                                                     \
        if (r_ != CUDA_SUCCESS) {                                              \
            const char *s_ = "?";                                              \
            cuGetErrorName(r_, &s_);                                           \
            fprintf(stderr, "%s:%d %s -> %s\n", __FILE__, __LINE__, #x, s_);   \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static double now_us() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

struct Slice {
    CUdeviceptr p;
    unsigned long long n;
};

enum Path { PARAMS, EXTRA, EX, EMPTY, PROC };

// cuLaunchKernel's address from cuGetProcAddress (the entry a versioned loader would call).
static decltype(&cuLaunchKernel) proc_launch;

static CUfunction f_vadd, f_empty, f_spin;
static Slice sl[3];
static void *params[3] = {&sl[0], &sl[1], &sl[2]};
static size_t buf_size = sizeof(sl);
static void *extra[5] = {CU_LAUNCH_PARAM_BUFFER_POINTER, sl, CU_LAUNCH_PARAM_BUFFER_SIZE,
                         &buf_size, CU_LAUNCH_PARAM_END};
static const unsigned GRID = 1, BLOCK = 64;  // vector_add of 256 f32 at 4 per thread

static inline void launch(Path p, CUstream s) {
    switch (p) {
    case PARAMS:
        CK(cuLaunchKernel(f_vadd, GRID, 1, 1, BLOCK, 1, 1, 0, s, params, nullptr));
        break;
    case EXTRA:
        CK(cuLaunchKernel(f_vadd, GRID, 1, 1, BLOCK, 1, 1, 0, s, nullptr, extra));
        break;
    case EX: {
        CUlaunchConfig c;
        memset(&c, 0, sizeof c);
        c.gridDimX = GRID, c.gridDimY = 1, c.gridDimZ = 1;
        c.blockDimX = BLOCK, c.blockDimY = 1, c.blockDimZ = 1;
        c.hStream = s;
        CK(cuLaunchKernelEx(&c, f_vadd, params, nullptr));
        break;
    }
    case PROC:
        CK(proc_launch(f_vadd, GRID, 1, 1, BLOCK, 1, 1, 0, s, params, nullptr));
        break;
    case EMPTY:
        CK(cuLaunchKernel(f_empty, GRID, 1, 1, BLOCK, 1, 1, 0, s, nullptr, nullptr));
        break;
    }
}

struct Cost {
    double enq, total;  // µs per launch: until the last launch returned; until the sync returned
};

// n launches then one synchronize, best of 5 (each figure's own best).
static Cost direct(Path p, CUstream s, int n) {
    Cost best{1e30, 1e30};
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++) launch(p, s);
        double t1 = now_us();
        CK(cuStreamSynchronize(s));
        double t2 = now_us();
        best.enq = std::min(best.enq, (t1 - t0) / n);
        best.total = std::min(best.total, (t2 - t0) / n);
    }
    return best;
}

struct Variant {
    const char *name;
    CUstream s;
    Path p;
};

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv) {
    std::string sched = argc > 1 ? argv[1] : "auto";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    int pin = argc > 3 ? atoi(argv[3]) : -1;
    if (pin >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(pin, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");
    }
    unsigned flag = sched == "spin"    ? CU_CTX_SCHED_SPIN
                    : sched == "yield" ? CU_CTX_SCHED_YIELD
                    : sched == "block" ? CU_CTX_SCHED_BLOCKING_SYNC
                                       : CU_CTX_SCHED_AUTO;
    CK(cuInit(0));
    CUdevice dev;
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxSetFlags(dev, flag));
    CUcontext ctx;
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    unsigned got = 0;
    CK(cuCtxGetFlags(&got));
    int clock_khz = 0;
    CK(cuDeviceGetAttribute(&clock_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, dev));
    CUdriverProcAddressQueryResult q;
    CK(cuGetProcAddress("cuLaunchKernel", (void **)&proc_launch, CUDA_VERSION,
                        CU_GET_PROC_ADDRESS_DEFAULT, &q));
    CUmodule mod;
    CK(cuModuleLoad(&mod, argc > 4 ? argv[4] : "kernels.cubin"));
    CK(cuModuleGetFunction(&f_vadd, mod, "vadd"));
    CK(cuModuleGetFunction(&f_empty, mod, "empty"));
    CK(cuModuleGetFunction(&f_spin, mod, "spin"));
    for (auto &x : sl) {
        CK(cuMemAlloc(&x.p, 256 * sizeof(float)));
        CK(cuMemsetD32(x.p, 0x3f800000, 256));
        x.n = 256;
    }
    CK(cuCtxSynchronize());
    CUstream nb, blk, prio;
    CK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    CK(cuStreamCreate(&blk, CU_STREAM_DEFAULT));
    int lo, hi;
    CK(cuCtxGetStreamPriorityRange(&lo, &hi));
    CK(cuStreamCreateWithPriority(&prio, CU_STREAM_NON_BLOCKING, hi));
    printf("== process: sched %s (ctx flags 0x%x) pinned %d cpu now %d\n", sched.c_str(), got,
           pin, sched_getcpu());

    // Cold: only 10 launches of warm-up before timing.
    for (int i = 0; i < 10; i++) launch(PARAMS, nb);
    CK(cuStreamSynchronize(nb));
    Cost cold = direct(PARAMS, nb, 1000);

    Variant vs[] = {
        {"nonblocking params (gpukit)", nb, PARAMS},
        {"default-flag stream params", blk, PARAMS},
        {"legacy NULL stream params", CU_STREAM_LEGACY, PARAMS},
        {"per-thread stream params", CU_STREAM_PER_THREAD, PARAMS},
        {"nonblocking extra buffer", nb, EXTRA},
        {"nonblocking cuLaunchKernelEx", nb, EX},
        {"nonblocking no-param kernel", nb, EMPTY},
        {"nonblocking high priority", prio, PARAMS},
        {"nonblocking via cuGetProcAddress", nb, PROC},
    };
    const int NV = sizeof vs / sizeof vs[0];
    const int depths[] = {100, 1000, 10000};
    std::vector<std::vector<double>> enq(NV), tot(NV), denq(3), dtot(3);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < NV; k++) {
            int v = (k + r) % NV;  // rotate the order between rounds
            for (int i = 0; i < 50; i++) launch(vs[v].p, vs[v].s);
            CK(cuStreamSynchronize(vs[v].s));
            Cost c = direct(vs[v].p, vs[v].s, 1000);
            enq[v].push_back(c.enq);
            tot[v].push_back(c.total);
        }
        for (int d = 0; d < 3; d++) {
            Cost c = direct(PARAMS, nb, depths[d]);
            denq[d].push_back(c.enq);
            dtot[d].push_back(c.total);
        }
    }
    printf("%-34s %8s %8s %8s | %8s\n", "variant (1000 launches + sync)", "min", "median",
           "max", "enq med");
    for (int v = 0; v < NV; v++) {
        printf("%-34s %8.3f %8.3f %8.3f | %8.3f\n", vs[v].name,
               *std::min_element(tot[v].begin(), tot[v].end()), median(tot[v]),
               *std::max_element(tot[v].begin(), tot[v].end()), median(enq[v]));
    }
    for (int d = 0; d < 3; d++) {
        char name[64];
        snprintf(name, sizeof name, "nonblocking, %d launches + sync", depths[d]);
        printf("%-34s %8.3f %8.3f %8.3f | %8.3f\n", name,
               *std::min_element(dtot[d].begin(), dtot[d].end()), median(dtot[d]),
               *std::max_element(dtot[d].begin(), dtot[d].end()), median(denq[d]));
    }
    printf("%-34s %8.3f (enqueue %.3f)\n", "cold (10 launches warm-up)", cold.total, cold.enq);

    // One launch at a time: per-call distribution of the enqueue (GPU idle between calls would
    // differ; here the stream runs behind the host as in the direct figure).
    {
        std::vector<double> t(1000);
        for (int i = 0; i < 1000; i++) {
            double a = now_us();
            launch(PARAMS, nb);
            t[i] = now_us() - a;
        }
        CK(cuStreamSynchronize(nb));
        double sum = 0;
        for (double x : t) sum += x;
        std::sort(t.begin(), t.end());
        printf("per-call cuLaunchKernel us: mean %.3f p10 %.3f p50 %.3f p90 %.3f p99 %.3f max %.1f\n",
               sum / 1000, t[100], t[500], t[900], t[990], t[999]);
    }
    // The stream busy ahead (a 20 ms spin kernel): are launches cheaper when they only queue,
    // and where does the queue fill (a launch that blocks shows as a large max)?
    for (int n : {100, 1000, 4000}) {
        long long cycles = (long long)clock_khz * 20;  // 20 ms
        void *sp[1] = {&cycles};
        CK(cuLaunchKernel(f_spin, 1, 1, 1, 1, 1, 1, 0, nb, sp, nullptr));
        double worst = 0, t0 = now_us();
        for (int i = 0; i < n; i++) {
            double a = now_us();
            launch(PARAMS, nb);
            worst = std::max(worst, now_us() - a);
        }
        double t1 = now_us();
        CK(cuStreamSynchronize(nb));
        printf("behind a 20 ms kernel, %5d launches: enqueue %.3f us/launch, worst call %.1f us\n", n,
               (t1 - t0) / n, worst);
    }
    // One launch then its synchronize (latency; here the scheduling flag matters).
    {
        double t0 = now_us();
        for (int i = 0; i < 1000; i++) {
            launch(PARAMS, nb);
            CK(cuStreamSynchronize(nb));
        }
        printf("launch+sync round trip us: %.3f\n", (now_us() - t0) / 1000);
    }
    {
        CUcontext c;
        double t0 = now_us();
        for (int i = 0; i < 100000; i++) CK(cuCtxGetCurrent(&c));
        printf("cuCtxGetCurrent us: %.4f\n", (now_us() - t0) / 100000);
    }
    // A long warm-up (0.5 s of launches), then the gpukit variant again.
    {
        double t0 = now_us();
        while (now_us() - t0 < 5e5) {
            for (int i = 0; i < 1000; i++) launch(PARAMS, nb);
            CK(cuStreamSynchronize(nb));
        }
        Cost c = direct(PARAMS, nb, 1000);
        printf("after 0.5 s warm-up: nonblocking params %.3f (enqueue %.3f)\n", c.total, c.enq);
    }
    return 0;
}
