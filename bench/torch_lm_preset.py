"""Peer baseline for fidelity: the `lm` preset (presets/lm.toml) end to end in PyTorch.

The same data as kdlab: the bundled plays (assets/shakespeare_8plays.txt.gz, or any UTF-8 text),
decoded as kdlab does (a leading byte-order mark dropped, CRLF read as LF), the last 10 % held
out, the vocabulary the training part's sorted characters (plus one unknown id when the test part
has a character training never saw). The same models (CharTransformer of bench/torch_lm.py, the
twin of `arch = "transformer"`), optimizer (Adam, lr 2e-3, eps 1e-8), batch (32 random windows of
64 characters, any start), steps (ceil(windows tiling the training text / 32) per epoch: the
teacher 6 epochs, each student 2) and evaluation (every non-overlapping window tiling the test
text, mean next-character loss over all its positions, in bits). Stages: the teacher
(cross-entropy), student_scratch (cross-entropy), student_forward_kl (0.1 * CE + 0.9 *
KL(p_teacher || p_student) per position, T = 1, the teacher frozen in eval mode). As in kdlab,
the two students draw the same windows at each step (a generator seeded SEED + 1 for each) and
start from the same weights, so their difference is the method's.

The trained teacher is kept in ~/.cache/kdlab/torch_lm_preset/ (one file per seed, text and
settings) and reused by a later run with the same ones, as kdlab caches its teachers; delete the
folder to train it again.

Prints one line per stage: `STAGE test_bpc X entropy Y` (entropy: the student's mean
next-character entropy on the test text, nats), plus KL(teacher || student) and
KL(student || teacher) for the distilled student.
Usage: python torch_lm_preset.py SEED [TEXT] [THREADS]
"""
import gzip, hashlib, math, os, sys, time
import torch, torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lm import CharTransformer  # noqa: E402

CONTEXT, BATCH, LR, TEST_FRACTION = 64, 32, 2e-3, 0.1
TEACHER = dict(layers=4, width=128, heads=4)
STUDENT = dict(layers=1, width=64, heads=2)
TEACHER_EPOCHS, STUDENT_EPOCHS, ALPHA = 6, 2, 0.9
UNKNOWN = "\ufffd"


def load(path):
    raw = open(path, "rb").read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8").replace("\r\n", "\n")
    test_len = round(len(text) * TEST_FRACTION)
    train, test = text[: len(text) - test_len], text[len(text) - test_len :]
    vocabulary = sorted(set(train))
    if any(c not in set(vocabulary) for c in test):
        vocabulary.append(UNKNOWN)
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = lambda part: torch.tensor([index.get(c, len(vocabulary) - 1) for c in part])
    return ids(train), ids(test), len(vocabulary)


def windows(stream, starts):
    """Inputs [len(starts), CONTEXT] and the next character of each position."""
    offsets = starts[:, None] + torch.arange(CONTEXT)[None, :]
    return stream[offsets], stream[offsets + 1]


def evaluate(model, test, teacher=None):
    positions = len(test) - 1
    starts = torch.arange(positions // CONTEXT) * CONTEXT
    sums = dict(loss=0.0, entropy=0.0, forward=0.0, reverse=0.0)
    model.eval()
    with torch.no_grad():
        for chunk in starts.split(256):
            x, y = windows(test, chunk)
            s = model(x).reshape(-1, model.head.out_features).log_softmax(-1)
            sums["loss"] += F.nll_loss(s, y.reshape(-1), reduction="sum").item()
            sums["entropy"] += -(s.exp() * s).sum().item()
            if teacher is not None:
                t = teacher(x).reshape(-1, model.head.out_features).log_softmax(-1)
                sums["forward"] += (t.exp() * (t - s)).sum().item()
                sums["reverse"] += (s.exp() * (s - t)).sum().item()
    model.train()
    rows = len(starts) * CONTEXT
    return {k: v / rows for k, v in sums.items()}


def train(model, train_stream, epochs, generator, teacher=None):
    steps = math.ceil(((len(train_stream) - 1) // CONTEXT) / BATCH) * epochs
    optimizer = torch.optim.Adam(model.parameters(), LR, eps=1e-8)
    vocabulary = model.head.out_features
    last_start = len(train_stream) - 1 - CONTEXT
    for _ in range(steps):
        x, y = windows(train_stream, torch.randint(0, last_start + 1, (BATCH,), generator=generator))
        logits = model(x).reshape(-1, vocabulary)
        loss = F.cross_entropy(logits, y.reshape(-1))
        if teacher is not None:
            with torch.no_grad():
                t = teacher(x).reshape(-1, vocabulary).log_softmax(-1)
            kl = F.kl_div(logits.log_softmax(-1), t, reduction="batchmean", log_target=True)
            loss = (1 - ALPHA) * loss + ALPHA * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps


def cached_teacher_path(text_path, seed):
    """Where the teacher trained on `text_path` with `seed` and this script's settings is kept."""
    identity = hashlib.sha256(open(text_path, "rb").read())
    identity.update(repr((seed, CONTEXT, BATCH, LR, TEST_FRACTION, TEACHER, TEACHER_EPOCHS)).encode())
    folder = os.path.join(os.path.expanduser("~"), ".cache", "kdlab", "torch_lm_preset")
    return os.path.join(folder, f"teacher-{identity.hexdigest()[:16]}.pt")


def report(name, metrics, steps, seconds, distilled=False):
    line = f"{name} test_bpc {metrics['loss'] / math.log(2):.4f} entropy {metrics['entropy']:.4f}"
    if distilled:
        line += f" kl_teacher_student {metrics['forward']:.4f} kl_student_teacher {metrics['reverse']:.4f}"
    print(f"{line} steps {steps} seconds {seconds:.0f}", flush=True)


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "assets", "shakespeare_8plays.txt.gz")
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    train_stream, test_stream, vocabulary = load(path)
    torch.manual_seed(seed)
    teacher = CharTransformer(vocabulary, context=CONTEXT, **TEACHER)
    start = time.time()
    kept = cached_teacher_path(path, seed)
    if os.path.exists(kept):
        teacher.load_state_dict(torch.load(kept, weights_only=True))
        steps = 0
        print(f"teacher: reusing {kept}", flush=True)
    else:
        steps = train(teacher, train_stream, TEACHER_EPOCHS, torch.Generator().manual_seed(seed))
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        torch.save(teacher.state_dict(), kept)
    teacher.eval()
    report("teacher", evaluate(teacher, test_stream), steps, time.time() - start)
    for name, distil in [("student_scratch", None), ("student_forward_kl", teacher)]:
        torch.manual_seed(seed + 1)
        student = CharTransformer(vocabulary, context=CONTEXT, **STUDENT)
        start = time.time()
        generator = torch.Generator().manual_seed(seed + 1)
        steps = train(student, train_stream, STUDENT_EPOCHS, generator, distil)
        report(name, evaluate(student, test_stream, teacher), steps, time.time() - start, distil is not None)
