"""TimeSformer's divided space-time layer for the fast path: the same math as transformers' code
with fewer copies, all of it in the weights' dtype.

transformers' TimesformerLayer, per layer, copies the token grid between its patch-major order
(the one between layers: a patch's 8 frames side by side) and frame-major order (one frame's
196 patches side by side) three times, builds the spatial input and the layer output with
`torch.cat`, and materialises every (B*8, 12, 197, 197) attention matrix. Under bf16 autocast
each of its three layer norms also runs in fp32: its bf16 input is cast up and its output cast
down again for the next matmul. Here:

    - both attentions go through F.scaled_dot_product_attention (one fused kernel);
    - the spatial input is written once into a (B, frames, 1 + patches, D) buffer (the class
      token and the frame-major patches in one copy), and the layer output once into a
      patch-major buffer (the strided spatial residual is added straight into it);
    - autocast is off inside the layer and everything runs in the weights' dtype: with bf16
      weights the layer norms read and write bf16 (computing in fp32 inside the kernel), so
      no cast copies. The residual stream was bf16 under autocast already;
    - on CPU every linear is one oneDNN kernel with its bias, the MLP's gelu and the residual
      adds fused into the matmul's output (torch's own linear first copies the bias into the
      output, then accumulates, then a separate pass adds the residual).

Profile of the bf16 video student before this (torch.profiler, 2 clips, 2 shared cores): addmm
45 %, copies 18 %, attention 16 %, gelu 6 %, adds 5 %, layer norms 4.5 %, cat 3 %.

With fp32 weights the layer is transformers' math to rounding (tested ≤ 1e-5).
"""

import types

import torch
import torch.nn.functional as F


def use_fast_layers(video, enabled: bool) -> None:
    """Every TimesformerLayer of `video` (a VideoStudent, or None) through `fast_layer` (enabled)
    or through transformers' own forward again (the instance attributes are removed)."""
    from transformers.models.timesformer.modeling_timesformer import TimesformerLayer, TimesformerSelfAttention

    if video is None:
        return
    patched = {TimesformerLayer: fast_layer, TimesformerSelfAttention: fused_attention}
    for module in video.modules():
        forward = patched.get(type(module))
        if forward is None:
            continue
        if enabled:
            module.forward = types.MethodType(forward, module)
        else:
            module.__dict__.pop("forward", None)


def fused_attention(self, hidden_states, output_attentions: bool = False):
    """TimesformerSelfAttention.forward with one fused kernel (inference: no attention dropout)."""
    batch, tokens, width = hidden_states.shape
    qkv = self.qkv(hidden_states).reshape(batch, tokens, 3, self.num_heads, width // self.num_heads)
    query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, head_dim)
    context = F.scaled_dot_product_attention(query, key, value, scale=self.scale)  # (B, heads, T, head_dim)
    return (context.transpose(1, 2).reshape(batch, tokens, width),)


def _linear(module, states, activation: str = "none", residual=None):
    """module(states) on (N, D) rows, then gelu (activation "gelu") or `+ residual`; on CPU one oneDNN
    kernel does the bias, the gelu and the add on the matmul's output (no extra pass over it); plain
    linears where oneDNN is absent or turned off (torch.backends.mkldnn.enabled)."""
    if states.device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled:
        if residual is not None:
            return torch.ops.mkldnn._linear_pointwise.binary(states, residual, module.weight, module.bias, "add")
        return torch.ops.mkldnn._linear_pointwise(states, module.weight, module.bias, activation, [], "none")
    output = F.linear(states, module.weight, module.bias)
    output = F.gelu(output) if activation == "gelu" else output
    return output if residual is None else output + residual


def _attend(attention, states):
    """TimeSformerAttention (self-attention then its output projection) on (N, T, D) states: (N*T, D)."""
    self_attention = attention.attention
    batch, tokens, width = states.shape
    qkv = _linear(self_attention.qkv, states.view(-1, width))
    qkv = qkv.view(batch, tokens, 3, self_attention.num_heads, width // self_attention.num_heads)
    query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (N, heads, T, head_dim)
    context = F.scaled_dot_product_attention(query, key, value, scale=self_attention.scale)
    return _linear(attention.output.dense, context.transpose(1, 2).reshape(-1, width))


def fast_layer(self, hidden_states, output_attentions: bool = False):
    """TimesformerLayer.forward for divided space-time attention at inference (no drop path)."""
    if self.attention_type != "divided_space_time" or output_attentions or self.config.hidden_act != "gelu":
        return type(self).forward(self, hidden_states, output_attentions)
    with torch.autocast(hidden_states.device.type, enabled=False):
        return (_divided_space_time(self, hidden_states.to(self.temporal_dense.weight.dtype)),)


def _divided_space_time(layer, hidden_states):
    frames = layer.config.num_frames
    batch, tokens, width = hidden_states.shape
    patches = (tokens - 1) // frames
    cls, grid = hidden_states[:, :1], hidden_states[:, 1:]  # (B, 1, D), (B, patches * frames, D) patch-major

    # temporal: each patch attends over its own frames (patch-major rows are already grouped so)
    temporal = _attend(layer.temporal_attention, layer.temporal_layernorm(grid).view(batch * patches, frames, width))
    grid = _linear(layer.temporal_dense, temporal, residual=grid.reshape(-1, width))
    grid = grid.view(batch, patches, frames, width)

    # spatial: each frame's patches and the class token attend together (frame-major, one copy)
    spatial = hidden_states.new_empty(batch, frames, 1 + patches, width)
    spatial[:, :, 0] = cls
    spatial[:, :, 1:] = grid.transpose(1, 2)
    spatial = _attend(layer.attention, layer.layernorm_before(spatial.view(batch * frames, 1 + patches, width)))
    spatial = spatial.view(batch, frames, 1 + patches, width)

    # residuals into one patch-major buffer, then the MLP
    states = torch.empty_like(hidden_states)
    torch.add(cls, spatial[:, :, :1].mean(1), out=states[:, :1])  # the class token: mean over frames
    torch.add(grid, spatial[:, :, 1:].transpose(1, 2), out=states[:, 1:].view(batch, patches, frames, width))
    states = states.view(-1, width)
    mlp = _linear(layer.intermediate.dense, layer.layernorm_after(states), activation="gelu")
    return _linear(layer.output.dense, mlp, residual=states).view(batch, tokens, width)
