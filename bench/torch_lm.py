"""Peer baseline: PyTorch (CPU) twins of kdlab's character transformer and its `kdlab bench`
language-model workloads on this machine.

CharTransformer is `arch = "transformer"` (src/model/transformer.rs) as PyTorch writes it:
token and learned position embeddings, pre-LayerNorm blocks of causal multi-head
self-attention (one Linear for q, k, v) and a 4x GELU (exact, erf) MLP, a final LayerNorm and
the next-character head; every Linear's weight and bias and every embedding start from
N(0, 0.02), LayerNorms at 1 and 0. Its parameter count is kdlab's (see the test
`sizes_match_the_footprint_and_the_twin` and `python bench/torch_lm.py count`).

Workloads (the shapes of src/bench/mod.rs):
  lm:         73 characters, windows of 64, batch 32; teacher 4 layers x width 128, 4 heads
              (frozen, eval); student 1 layer x width 64, 2 heads;
              loss = 0.1*CE + 0.9*KL(softmax(t) || softmax(s)) per position (mean over positions), Adam 1e-3.
  lm_teacher: that teacher trained alone, next-character cross-entropy, Adam 1e-3.
  lm_on_policy: lm with GKD's on-policy fraction 0.5: every other step the student first samples
              the last 32 characters of each window (T = 1, torch.no_grad, one batched forward per
              character, torch.multinomial) and learns KL(teacher || student) on the sampled
              positions alone.
Prints steps/s for each workload, with the step's multiply-add work (2 FLOP each, forward and
backward as 1 + 2 passes; the frozen teacher's forward only) as GFLOP/s.
`peak` prints what PyTorch's own matrix product reaches on this machine: the teacher's layer
shapes and a 4096^3 product, GFLOP/s.
Usage: python torch_lm.py [THREADS] [WORKLOAD ...]   |   python torch_lm.py count   |   python torch_lm.py THREADS peak
"""
import math, sys, time, torch, torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm_attention = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.projection = nn.Linear(width, width)
        self.norm_mlp = nn.LayerNorm(width)
        self.expand = nn.Linear(width, 4 * width)
        self.contract = nn.Linear(4 * width, width)

    def forward(self, x):
        b, n, w = x.shape
        q, k, v = self.qkv(self.norm_attention(x)).split(w, dim=2)
        split = lambda t: t.view(b, n, self.heads, w // self.heads).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(2, 3) / math.sqrt(w // self.heads)
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        attention = scores.masked_fill(causal, float("-inf")).softmax(-1)
        x = x + self.projection((attention @ v).transpose(1, 2).reshape(b, n, w))
        return x + self.contract(F.gelu(self.expand(self.norm_mlp(x))))


class CharTransformer(nn.Module):
    def __init__(self, vocabulary, layers, width, heads, context):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.normal_(module.bias, 0.0, 0.02)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def token_kd(s, t, y, a=0.9):
    v = s.shape[-1]
    s, t, y = s.reshape(-1, v), t.reshape(-1, v), y.reshape(-1)
    kl = F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1), reduction="batchmean", log_target=True)
    return (1 - a) * F.cross_entropy(s, y) + a * kl


def forward_flop(vocabulary, layers, width, heads, context, batch):
    """FLOP of one forward pass over batch x context tokens: every Linear's multiply-adds
    and attention's two products (each query against all context keys, as the masked product
    computes them)."""
    per_token = layers * (3 * width * width + width * width + 8 * width * width + 2 * context * width)
    per_token += width * vocabulary
    return 2 * per_token * batch * context


def peak():
    for n, k, m in [(2048, 128, 384), (2048, 128, 512), (2048, 512, 128), (4096, 4096, 4096)]:
        a, b = torch.randn(n, k), torch.randn(k, m)
        repeats = 3 if n == 4096 else 50
        for _ in range(3): a @ b
        t0 = time.perf_counter()
        for _ in range(repeats): a @ b
        seconds = (time.perf_counter() - t0) / repeats
        print(f"matmul [{n}x{k}]x[{k}x{m}] {2 * n * k * m / seconds / 1e9:.1f} GFLOP/s")


def bench(step, n):
    for _ in range(10): step()
    t0 = time.perf_counter()
    for _ in range(n): step()
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    torch.manual_seed(0)
    if sys.argv[1:] == ["count"]:
        tiny = CharTransformer(11, 2, 16, 4, 8)
        print(sum(p.numel() for p in tiny.parameters()))
        sys.exit()
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    wanted = sys.argv[2:] or ["lm", "lm_teacher", "lm_on_policy"]
    if wanted == ["peak"]:
        peak()
        sys.exit()
    teacher_flop = forward_flop(73, 4, 128, 4, 64, 32)
    student_flop = forward_flop(73, 1, 64, 2, 64, 32)
    V, CONTEXT, BATCH = 73, 64, 32
    x = torch.randint(0, V, (BATCH, CONTEXT)); y = torch.randint(0, V, (BATCH, CONTEXT))
    if "lm" in wanted:
        teacher = CharTransformer(V, 4, 128, 4, CONTEXT).eval()
        student = CharTransformer(V, 1, 64, 2, CONTEXT)
        opt = torch.optim.Adam(student.parameters(), 1e-3)
        def step_lm():
            with torch.no_grad(): t = teacher(x)
            loss = token_kd(student(x), t, y)
            opt.zero_grad(); loss.backward(); opt.step()
        rate = bench(step_lm, 100)
        print(f"lm steps/s {rate:.1f} ({rate * (teacher_flop + 3 * student_flop) / 1e9:.0f} GFLOP/s)")
    if "lm_on_policy" in wanted:
        teacher = CharTransformer(V, 4, 128, 4, CONTEXT).eval()
        student = CharTransformer(V, 1, 64, 2, CONTEXT)
        opt = torch.optim.Adam(student.parameters(), 1e-3)
        SAMPLED = 32
        prompt = CONTEXT + 1 - SAMPLED
        whole = torch.cat([x, y[:, -1:]], 1)
        calls = [0]
        def sample():
            seq = whole[:, :prompt]
            with torch.no_grad():
                for _ in range(SAMPLED):
                    last = student(seq)[:, -1, :]
                    seq = torch.cat([seq, torch.multinomial(last.softmax(-1), 1)], 1)
            labels = seq[:, 1:].clone()
            labels[:, : prompt - 1] = -100
            return seq[:, :CONTEXT], labels
        def step_on_policy():
            calls[0] += 1
            if calls[0] % 2 == 0:
                inputs, labels = sample()
                with torch.no_grad(): t = teacher(inputs)
                s_logits = student(inputs)
                mask = (labels != -100).reshape(-1)
                flat = lambda z: z.reshape(-1, V)[mask]
                loss = F.kl_div(F.log_softmax(flat(s_logits), 1), F.log_softmax(flat(t), 1), reduction="batchmean", log_target=True)
            else:
                with torch.no_grad(): t = teacher(x)
                loss = token_kd(student(x), t, y)
            opt.zero_grad(); loss.backward(); opt.step()
        rate = bench(step_on_policy, 40)
        print(f"lm_on_policy steps/s {rate:.1f}")
    if "lm_teacher" in wanted:
        model = CharTransformer(V, 4, 128, 4, CONTEXT)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        def step_teacher():
            loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
            opt.zero_grad(); loss.backward(); opt.step()
        rate = bench(step_teacher, 40)
        print(f"lm_teacher steps/s {rate:.1f} ({rate * 3 * teacher_flop / 1e9:.0f} GFLOP/s)")
