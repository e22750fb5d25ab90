"""Fits the polynomial coefficients of crates/device/src/math.rs (exp, tanh) and checks the f32
algorithms against float64 by emulating them in numpy (fma emulated in float64). Dev tool:
python3 scripts/fit_math.py (needs numpy)."""
import numpy as np
np.set_printoptions(precision=10)
def cheb_nodes(a,b,n):
    k=np.arange(n); return (a+b)/2+(b-a)/2*np.cos((2*k+1)*np.pi/(2*n))
def fit(f, basis, a, b, n=4000, weight=None, iters=30):
    x=cheb_nodes(a,b,n); A=np.stack([bf(x) for bf in basis],1); y=f(x)
    w=np.ones_like(x) if weight is None else weight(x)
    # Lawson IRLS towards minimax of relative error
    lw=np.ones_like(x)
    for it in range(iters):
        W=np.sqrt(lw)*w
        c,*_=np.linalg.lstsq(A*W[:,None], y*W, rcond=None)
        e=np.abs((A@c-y)*w); lw=lw*e; lw/=lw.sum()
    return c, np.max(np.abs((A@c-y)*w))
# exp: e^r = 1 + r + r^2 Q(r), fit Q(r) = (e^r-1-r)/r^2 with weight r^2/e^r (relative error of e^r)
L=np.log(2)/2*1.0001
for deg in (4,5):
    basis=[(lambda k: (lambda r: r**k))(k) for k in range(deg+1)]
    f=lambda r: (np.expm1(r)-r)/r**2
    c,err=fit(f,basis,-L,L,weight=lambda r: r**2/np.exp(r))
    print("exp Q deg",deg,[float(np.float32(v)) for v in c],"rel err",err, np.log2(err))
# tanh on [0,T]: tanh x = x + x^3 P(x^2); fit P(s) = (tanh(x)-x)/x^3, weight x^3/tanh(x) (relative)
for T in (0.55,0.625,1.0):
  for deg in (4,5,6,7):
    basis=[(lambda k: (lambda x: x**(2*k)))(k) for k in range(deg+1)]
    f=lambda x: (np.tanh(x)-x)/x**3
    c,err=fit(f,basis,1e-4,T,weight=lambda x: x**3/np.tanh(x))
    print("tanh T",T,"deg",deg,"rel err",np.log2(err), [repr(float(np.float32(v))) for v in c])
f32=np.float32
def fma(a,b,c): return (a.astype(np.float64)*b.astype(np.float64)+c.astype(np.float64)).astype(f32)
Q=[f32(v) for v in [0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.0083687175065279, 0.0013814589474350214]]
LOG2E=f32(1.4426950408889634); LN2HI=f32(0.693145751953125); LN2LO=f32(1.428606765330187e-06)
def exp32(x):
    x=np.clip(x,f32(-104),f32(89))
    t=fma(x,np.full_like(x,LOG2E),np.full_like(x,f32(12582912.0)))
    n=(t-f32(12582912.0)).astype(f32)
    r=fma(n,np.full_like(x,-LN2HI),x); r=fma(n,np.full_like(x,-LN2LO),r)
    q=np.full_like(x,Q[4])
    for c in Q[3::-1]: q=fma(q,r,np.full_like(x,c))
    r2=(r*r).astype(f32)
    p=fma(r2,q,r); p=(p+f32(1)).astype(f32)
    ni=n.astype(np.int64); n1=ni//2; n2=ni-n1
    s1=((n1+127)<<23).astype(np.uint32).view(f32); s2=((n2+127)<<23).astype(np.uint32).view(f32)
    return ((p*s1).astype(f32)*s2).astype(f32)
def ulp_err(got, ref):
    # error in units of ulp of the f32 nearest to ref
    r32=ref.astype(f32)
    ulp=np.spacing(np.abs(r32)).astype(np.float64)
    ulp=np.maximum(ulp, np.spacing(f32(1.17549435e-38)))
    return np.abs(got.astype(np.float64)-ref)/ulp
rng=np.random.default_rng(1)
x=np.concatenate([rng.uniform(-103,88.7,4_000_000), rng.uniform(-1,1,1_000_000)]).astype(f32)
e=ulp_err(exp32(x), np.exp(x.astype(np.float64)))
i=np.argmax(e); print("exp max ulp",e.max(),"at",x[i], "mean",e.mean())
P=[f32(float(v)) for v in ['-0.333333283662796', '0.1333319991827011', '-0.05395309999585152', '0.02178473211824894', '-0.00859511736780405', '0.003078597132116556', '-0.0008411388262175024', '0.00012147107918281108']]
def tanh32(x):
    a=np.abs(x); s=(x*x).astype(f32)
    p=np.full_like(x,P[-1])
    for c in P[-2::-1]: p=fma(p,s,np.full_like(x,c))
    x3=(x*s).astype(f32)
    small=fma(x3,p,x)
    E=exp32((2*a).astype(f32))
    big=(f32(1)-(f32(2)/(f32(1)+E)).astype(f32)).astype(f32)
    big=np.copysign(big,x)
    return np.where(a<f32(1.0),small,big)
x=np.concatenate([rng.uniform(-10,10,4_000_000), rng.uniform(-1.2,1.2,2_000_000)]).astype(f32)
e=ulp_err(tanh32(x), np.tanh(x.astype(np.float64)))
i=np.argmax(e); print("tanh max ulp",e.max(),"at",x[i], "mean",e.mean())
def sig32(x):
    return (f32(1)/(f32(1)+exp32(-x)).astype(f32)).astype(f32)
x=rng.uniform(-87,87,4_000_000).astype(f32)
e=ulp_err(sig32(x), 1/(1+np.exp(-x.astype(np.float64))))
i=np.argmax(e); print("sigmoid max ulp",e.max(),"at",x[i], "mean",e.mean())
K=f32(0.7978845608028654); C=f32(0.044715)
def gelu32(x):
    u=(K*fma((C*x).astype(f32),(x*x).astype(f32),x)).astype(f32)
    return (x/(f32(1)+exp32((f32(-2)*u).astype(f32))).astype(f32)).astype(f32)
def gelu64(x):
    k=np.sqrt(2/np.pi); return 0.5*x*(1+np.tanh(k*(x+0.044715*x**3)))
x=rng.uniform(-10,10,4_000_000).astype(f32)
g=gelu32(x); r=gelu64(x.astype(np.float64))
mixed=np.abs(g-r)/np.maximum(1,np.abs(r)); print("gelu mixed log2",np.log2(mixed.max()))
e=ulp_err(g,r); i=np.argmax(e); print("gelu max ulp",e.max(),"at",x[i])
m=np.abs(x)<4; print("gelu max ulp |x|<4",e[m].max())
def sig32b(x):
    pos=(f32(1)/(f32(1)+exp32(-x)).astype(f32)).astype(f32)
    e=exp32(x); neg=(e/(f32(1)+e).astype(f32)).astype(f32)
    return np.where(x>=0,pos,neg)
x=np.concatenate([rng.uniform(-87,87,4_000_000),rng.uniform(-20,20,4_000_000)]).astype(f32)
ref=1/(1+np.exp(-x.astype(np.float64)))
for name,fn in (("1/(1+e^-x)",sig32),("split",sig32b)):
    e=ulp_err(fn(x), ref); i=np.argmax(e); print(name,"max ulp",e.max(),"at",x[i], "mean",e.mean())
