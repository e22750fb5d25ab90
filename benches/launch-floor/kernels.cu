// Kernels for launch_floor.cpp: the shape of gpukit's vector_add (three {pointer, length}
// slices by value, 48 bytes of parameters), a kernel without parameters, and a spin kernel
// that keeps the stream busy so launches queue behind it.
struct Slice {
    float *p;
    unsigned long long n;
};

extern "C" __global__ void vadd(Slice a, Slice b, Slice o) {
    unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < o.n) o.p[i] = a.p[i] + b.p[i];
}

extern "C" __global__ void empty() {}

extern "C" __global__ void spin(long long cycles) {
    long long t = clock64();
    while (clock64() - t < cycles) {
    }
}
