"""Peer baseline: PyTorch (CPU) knowledge-distillation training steps on this machine.

Workloads (the same shapes the project's benchmark must use):
  mlp: digits-sized input 64, teacher 64-256-256-10 (frozen, eval), student 64-32-10,
       batch 128, loss = 0.1*CE + 0.9*T^2*KL(softmax(t/T) || softmax(s/T)), T=4, Adam 1e-3.
  cnn: MNIST 1x28x28, teacher conv(1,32,3,p1)-relu-pool2-conv(32,64,3,p1)-relu-pool2-fc(3136,128)-relu-fc(128,10),
       student conv(1,8,3,p1)-relu-pool2-conv(8,16,3,p1)-relu-pool2-fc(784,10), batch 64,
       loss = KD as above + 1000 * AT(at the second conv block).
  teacher: the kd preset's CNN teacher alone, conv(1,32,3,p1)-relu-pool2-conv(32,64,3,p1)-relu-pool2-fc(3136,128)-relu-fc(128,10),
       MNIST 1x28x28, batch 128, cross-entropy, Adam 1e-3.
Prints steps/s for each workload. Usage: python torch_kd_bench.py [THREADS] [WORKLOAD ...]
"""
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)

def kd(s, t, y, T=4.0, a=0.9):
    return (1 - a) * F.cross_entropy(s, y) + a * T * T * F.kl_div(
        F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")

def at(f):
    return F.normalize(f.pow(2).mean(1).flatten(1))

def bench(step, n):
    for _ in range(10): step()
    t0 = time.perf_counter()
    for _ in range(n): step()
    return n / (time.perf_counter() - t0)

# mlp
T_mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
S_mlp = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(S_mlp.parameters(), 1e-3)
x = torch.randn(128, 64); y = torch.randint(0, 10, (128,))
def step_mlp():
    with torch.no_grad(): t = T_mlp(x)
    loss = kd(S_mlp(x), t, y)
    opt.zero_grad(); loss.backward(); opt.step()
wanted = sys.argv[2:] or ["mlp", "cnn", "teacher"]
if "mlp" in wanted: print(f"mlp steps/s {bench(step_mlp, 2000):.1f}")

class Cnn(nn.Module):
    def __init__(s, c1, c2, hidden):
        super().__init__()
        s.c1 = nn.Conv2d(1, c1, 3, padding=1); s.c2 = nn.Conv2d(c1, c2, 3, padding=1)
        s.fc = nn.Sequential(nn.Linear(c2 * 49, hidden), nn.ReLU(), nn.Linear(hidden, 10)) if hidden else nn.Linear(c2 * 49, 10)
    def forward(s, x):
        f1 = F.max_pool2d(F.relu(s.c1(x)), 2)
        f2 = F.max_pool2d(F.relu(s.c2(f1)), 2)
        return s.fc(f2.flatten(1)), f2
T_cnn = Cnn(32, 64, 128).eval(); S_cnn = Cnn(8, 16, 0)
opt2 = torch.optim.Adam(S_cnn.parameters(), 1e-3)
xi = torch.randn(64, 1, 28, 28); yi = torch.randint(0, 10, (64,))
def step_cnn():
    with torch.no_grad(): t, ft = T_cnn(xi)
    s, fs = S_cnn(xi)
    loss = kd(s, t, yi) + 1000 * (at(fs) - at(ft)).pow(2).mean()
    opt2.zero_grad(); loss.backward(); opt2.step()
if "cnn" in wanted: print(f"cnn steps/s {bench(step_cnn, 300):.1f}")

T_train = Cnn(32, 64, 128)
opt3 = torch.optim.Adam(T_train.parameters(), 1e-3)
xt = torch.randn(128, 1, 28, 28); yt = torch.randint(0, 10, (128,))
def step_teacher():
    loss = F.cross_entropy(T_train(xt)[0], yt)
    opt3.zero_grad(); loss.backward(); opt3.step()
if "teacher" in wanted: print(f"teacher steps/s {bench(step_teacher, 100):.1f}")
