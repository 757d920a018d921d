"""Reference for the test `the_transformer_and_adam_follow_pytorch_step_for_step`
(src/model/transformer.rs): a small CharTransformer (bench/torch_lm.py, the twin of
`arch = "transformer"`) initialised by PyTorch, ten Adam steps (lr 2e-3, eps 1e-8, as kdlab's
Adam) of next-character cross-entropy on fixed random batches. Writes its initial weights (PyTorch
layout: a Linear's weight is [out, in]), the batches, every step's loss, the gradients of the
first step and the weights after the last, to tests/fixtures/transformer_adam_steps.json.

kdlab loads the same initial weights, takes the same steps and must land on the same numbers:
the model, its backward pass and the optimizer are PyTorch's, so a difference between a kdlab run
and the PyTorch twin of a preset (bench/torch_lm_preset.py) comes from what the two draw at random
(initial weights, windows), not from what they compute.
Usage: python torch_transformer_steps.py
"""
import json, os, sys, torch, torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lm import CharTransformer  # noqa: E402

VOCABULARY, LAYERS, WIDTH, HEADS, CONTEXT, BATCH, STEPS = 11, 2, 8, 2, 8, 4, 10


def values(tensors):
    """Name -> shape and values, each f32 written with the 9 digits that round-trip it."""
    exact = lambda t: [float(f"{x:.9g}") for x in t.detach().flatten().tolist()]
    return {k: {"shape": list(v.shape), "values": exact(v)} for k, v in tensors}


if __name__ == "__main__":
    torch.manual_seed(0)
    model = CharTransformer(VOCABULARY, layers=LAYERS, width=WIDTH, heads=HEADS, context=CONTEXT)
    initial = values(model.state_dict().items())
    optimizer = torch.optim.Adam(model.parameters(), 2e-3, eps=1e-8)
    batches, labels, losses, gradients = [], [], [], None
    for step in range(STEPS):
        x = torch.randint(0, VOCABULARY, (BATCH, CONTEXT))
        y = torch.randint(0, VOCABULARY, (BATCH * CONTEXT,))
        loss = F.cross_entropy(model(x).reshape(-1, VOCABULARY), y)
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            gradients = values((k, p.grad) for k, p in model.named_parameters())
        optimizer.step()
        batches.append(x.flatten().tolist())
        labels.append(y.tolist())
        losses.append(float(f"{loss.item():.9g}"))
    spec = dict(vocabulary=VOCABULARY, layers=LAYERS, width=WIDTH, heads=HEADS, context=CONTEXT, batch=BATCH)
    out = dict(spec=spec, learning_rate=2e-3, initial=initial, batches=batches, labels=labels, losses=losses,
               first_gradients=gradients, final=values(model.state_dict().items()))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "fixtures", "transformer_adam_steps.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {os.path.normpath(path)}: losses {losses[0]:.5f} .. {losses[-1]:.5f}")
