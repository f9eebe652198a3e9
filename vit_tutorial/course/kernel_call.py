"""The grader's one call into a submission's kernel: run there, never imported by the grader.

The worker (:class:`vit_tutorial.course.kernel.KernelFunction`) sends this file's text to the
kernel as a cell, followed by ``__vt_grader_call(<input file>, <output file>, <expression>)``
and a ``del``. In the kernel it evaluates the student's function by name among the notebook's
variables, calls it with the grader's inputs (read from the input file; a ViT arrives as class
name, config and weights and is rebuilt here), and saves only the output: a tensor, a config as
JSON, or JSON, with the names of the torch functions, ATen operators and model modules it reached (for the
checks that forbid a built-in, :mod:`vit_tutorial.exercises._forbidden`). It imports nothing of ``vit_tutorial``; what it writes is read back with
``torch.load(weights_only=True)``, so a kernel can answer only the question it was asked.
"""


def __vt_grader_call(inp, out, expr):
    import json
    import pickle

    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    calls = {"ops": [], "modules": []}  # what the function reached: the checks name forbidden built-ins from it

    def save(d):
        torch.save({**d, "calls": calls}, out)

    try:
        fn = eval(expr, get_ipython().user_ns)  # noqa: F821 - get_ipython: the kernel's own
    except BaseException as err:
        return save({"kind": "undefined", "ename": type(err).__name__, "evalue": str(err)[:2000]})
    with open(inp, "rb") as f:
        payload = pickle.load(f)

    def model_of(a):  # a model the grader sent as class name, config and weights
        if isinstance(a, dict) and a.get("__vt_model__"):
            import transformers
            config = transformers.ViTConfig.from_dict(a["config"])
            config._attn_implementation = "eager"
            model = getattr(transformers, a["cls"])(config)
            model.load_state_dict(a["state"])
            return model.eval()
        return a
    payload["args"] = [model_of(a) for a in payload["args"]]
    payload["kwargs"] = {k: model_of(v) for k, v in payload["kwargs"].items()}

    def seen(name):
        if name not in calls["ops"]:
            calls["ops"].append(name)

    class Ops(TorchDispatchMode):  # every ATen operator the function reaches
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen(str(func))
            return func(*args, **(kwargs or {}))

    class Functions(TorchFunctionMode):  # every torch function it calls, by name
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen("fn:" + getattr(func, "__name__", ""))
            return func(*args, **(kwargs or {}))

    names = {id(m): [n or type(a).__name__, type(m).__name__] for a in (*payload["args"], *payload["kwargs"].values())
             if isinstance(a, torch.nn.Module) for n, m in a.named_modules()}

    def module_called(m, _):
        if id(m) in names and names[id(m)] not in calls["modules"]:
            calls["modules"].append(names[id(m)])

    hook = torch.nn.modules.module.register_module_forward_pre_hook(module_called)
    try:
        with Functions(), Ops():
            got = fn(*payload["args"], **payload["kwargs"])
    except NotImplementedError as err:
        return save({"kind": "not_done", "evalue": str(err)[:2000]})
    except BaseException as err:
        return save({"kind": "raised", "ename": type(err).__name__, "evalue": str(err)[:2000]})
    finally:
        hook.remove()
    name = type(got).__name__
    if isinstance(got, torch.Tensor):
        return save({"kind": "tensor", "value": got.detach().as_subclass(torch.Tensor).clone()})
    if hasattr(got, "to_dict") and name.endswith("Config"):
        try:
            return save({"kind": "config", "type": name, "value": json.dumps(got.to_dict(), default=str)})
        except BaseException:
            pass
    try:
        return save({"kind": "json", "type": name, "value": json.dumps(got)})
    except BaseException:
        return save({"kind": "other", "type": name})
