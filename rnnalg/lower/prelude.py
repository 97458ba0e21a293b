"""Helpers every emitted module starts with (this file's source is pasted in verbatim).

Arrays are time-major: (T, B, D). A dense weight has shape (in, out) and is applied
as `a @ W`; an embedding table has shape (V, out) and is read by row lookup.
"""
import numpy as np

LP_EPS = 1e-6  # L_p pooling: y = (ε^p + mean_k |a|^p)^(1/p) − ε is 0 at a = 0 with a finite dy/da
LN_EPS = 1e-5  # layer norm: n = (a − μ) / √(σ² + ε)
# ε as in PyTorch's nn.LayerNorm and Ba et al.'s code (Keras: 1e-3).  At a constant input (σ² = 0: x = 0 at
# zero state) r = 1/√ε = 316 a norm, so a float32 BPTT gradient can overflow; the trainer retakes it in float64.


def _mm(a, w):
    """(..., in) @ (in, out) -> (..., out), as one matrix product over all leading axes."""
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(a.shape[:-1] + (w.shape[1],))


def _mmT(a, g):
    """Σ over all leading axes of a^T g: (..., in), (..., out) -> (in, out); a static `a`
    (1, B, in), one value per sequence, meets Σ_t g."""
    g = _per_sequence(g) if a.shape[0] == 1 else g
    return a.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])


def _bias_grad(g):
    """Σ over all leading axes of g: (..., W) -> (W,), as one (1 × rows)·(rows × W) product: numpy's
    sum over the leading axes takes 2.5–5× as long on a block in cache (bench/README.md, "The head")."""
    flat = g.reshape(-1, g.shape[-1])
    return np.ones(len(flat), dtype=g.dtype) @ flat


# The reverse scan's step product G[t] @ Wᵀ, W (in, out) C-ordered: with Wᵀ the view W.T the BLAS packs a
# transposed operand every step.  From STEP_WT_COPY_ROWS rows on, Wᵀ is copied C-ordered once per call
# instead.  numpy's OpenBLAS 0.3.31, one thread, the LSTM's T = 100 products (B×800)·(800×200), copy (its
# time counted) over view at B = 8 / 16 / 64: 0.93 / 0.94 / 0.98 with the AVX2 (Haswell) kernels, 0.54 /
# 0.57 / 0.78 with the AVX-512 (SkylakeX) kernels, OpenBLAS's own pick on an AVX-512 CPU; at B = 2 and 4
# SkylakeX's small-matrix path makes the view the faster (copy 1.44×, 1.28×; Haswell 0.88×, 0.86×)
# (bench/gemm_layouts.py; bench/README.md, "Gated cells").  Either layout gives the same product.
STEP_WT_COPY_ROWS = 8


def _step_weight_T(w, B):
    """Wᵀ (out, in) of a weight w (in, out) for the reverse scan's products G[t] @ Wᵀ (B rows each): a
    C-ordered copy from STEP_WT_COPY_ROWS rows on, the view w.T below."""
    return np.ascontiguousarray(w.T) if B >= STEP_WT_COPY_ROWS else w.T


def _over_steps(a, T):
    """(1, B, W), one value per sequence, as a (T, B, W) view (no copy)."""
    return np.broadcast_to(a, (T,) + a.shape[1:])


def _per_sequence(g):
    """(T, B, W) gradients of a value shared by all steps -> (1, B, W), their sum over t."""
    return g if g.shape[0] == 1 else g.sum(axis=0, keepdims=True)


def _embed_grad(table_shape, tokens, g):
    """Scatter-add g (..., out) into a zero (V, out) table at rows `tokens` (...); static tokens
    (1, B) meet Σ_t g."""
    g = _per_sequence(g) if tokens.shape[0] == 1 and tokens.ndim == g.ndim - 1 else g
    grad = np.zeros(table_shape, dtype=g.dtype)
    _add_rows_at(grad, tokens.reshape(-1), g.reshape(-1, g.shape[-1]))
    return grad


# _add_rows_at's two ways, by a cost model in ns (numpy 2.4, float32, one thread, CPU clock, the loaded
# 2-core development machine, 2026-12-06; bench/README.md, "Whole training steps"): np.add.at's unbuffered
# loop ADD_AT_NS an element; the passes ROWS_CALL_NS a call, ROWS_SORT_NS a row (the sorts) and
# ROWS_PASS_NS a pass (their adds of whole rows cost ~1 ns an element and are left out).
ADD_AT_NS = 12
ROWS_CALL_NS = 40_000
ROWS_SORT_NS = 200
ROWS_PASS_NS = 2_500


def _rows_in_passes(n, passes, width):
    """Whether _add_rows_at adds n rows `width` wide in `passes` passes rather than by np.add.at:
    ROWS_CALL_NS + ROWS_SORT_NS·n + ROWS_PASS_NS·passes < ADD_AT_NS·n·width."""
    return ROWS_CALL_NS + ROWS_SORT_NS * n + ROWS_PASS_NS * passes < ADD_AT_NS * n * width


def _add_rows_at(table, rows, values):
    """table[rows[i]] += values[i] for i = 0 … n−1 in place, table (V, W), rows (n,) ints, values (n, W):
    np.add.at(table, rows, values), bit for bit, each row's values added in their order,
    ((table[v] + g₁) + g₂) + ….  In passes where that is cheaper (_rows_in_passes): pass r adds the
    r-th value of every row that has one, as one elementwise add of the rows gathered most frequent
    first (then pass r's rows are a prefix of them); as many passes as the largest count of a row."""
    n, width = values.shape
    if n == 0:
        return
    if not _rows_in_passes(n, 1, width):
        np.add.at(table, rows, values)
        return
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))  # each row's first entry
    counts = np.diff(np.append(first, n))
    if ordered[0] < 0 or not _rows_in_passes(n, counts.max(), width):  # a negative row: add.at's wrap-around
        np.add.at(table, rows, values)
        return
    run = np.repeat(np.arange(len(first)), counts)  # per ordered entry: its row's number, and its place r in that row
    rank = np.arange(n) - first[run]
    by_count = np.argsort(-counts, kind="stable")
    slot = np.empty_like(by_count)
    slot[by_count] = np.arange(len(first))
    entries = order[np.argsort(rank * len(first) + slot[run])]  # pass 0's entries by slot, then pass 1's, …
    targets = ordered[first[by_count]]
    sums = table[targets]
    start = 0
    for size in np.bincount(rank).tolist():
        sums[:size] += values[entries[start:start + size]]
        start += size
    table[targets] = sums


def _acc(grads, key, value):
    """grads[key] += value in place, or = value the first time: a gradient summed over the time
    blocks of loss_and_grad."""
    if key in grads:
        grads[key] += value
    else:
        grads[key] = value


def _mmT_acc(total, a, g):
    """A running sum over the time blocks of loss_and_grad: total += _mmT(a, g) in place, -> total;
    the first block (total None) -> _mmT(a, g) itself.  grads hold views of it (`_first`), so no
    block's product is added to them apart (the fast backend adds it inside the product)."""
    if total is None:
        return _mmT(a, g)
    total += _mmT(a, g)
    return total


def _first(grads, key, value):
    """grads[key] = value in the first time block: a view of a running sum (`_mmT_acc`) that the
    later blocks add to in place."""
    if key not in grads:
        grads[key] = value


def _embed_acc(grads, key, table_shape, tokens, g):
    """_acc of _embed_grad(table_shape, tokens, g), scattered straight into the table already there."""
    if key not in grads:
        grads[key] = _embed_grad(table_shape, tokens, g)
        return
    g = _per_sequence(g) if tokens.shape[0] == 1 and tokens.ndim == g.ndim - 1 else g
    _add_rows_at(grads[key], tokens.reshape(-1), g.reshape(-1, g.shape[-1]))


ROW_CHUNK = 1024  # rows (steps × B) per piece of _affine_into: its temporaries hold this many rows, not T·B


def _affine_into(out, bias, *terms):
    """out (T, B, W) = bias + Σ x W over terms (x, W), added in that order: x dense (T, B, in), token
    ids (T, B) read as rows of W, or one value per sequence (1, B, in); written a piece of about
    ROW_CHUNK rows at a time, so no (T, B, W) temporary."""
    T = out.shape[0]
    once = {k: (w[x] if x.ndim == out.ndim - 1 else _mm(x, w))  # a per-sequence term: its product once
            for k, (x, w) in enumerate(terms) if x.shape[0] == 1 and T > 1}
    lookup = _token_lookup(out, bias, *terms[0]) if terms and 0 not in once else None
    step = max(1, ROW_CHUNK // max(1, out.shape[1]))
    for start in range(0, T, step):
        piece = out[start:start + step]
        for k, (x, w) in enumerate(terms):
            dense = k not in once and x.ndim == out.ndim
            if k == 0 and dense and piece.flags.c_contiguous:  # the product straight into the piece
                np.matmul(x[start:start + step].reshape(-1, x.shape[-1]), w, out=piece.reshape(-1, w.shape[1]))
                piece += bias
                continue
            if k == 0 and lookup is not None and piece.flags.c_contiguous:  # the rows straight into the piece
                table, biased = lookup
                np.take(table, x[start:start + step], axis=0, out=piece, mode="wrap")
                if not biased:
                    piece += bias
                continue
            if k in once:
                value = once[k]
            else:
                value = w[x[start:start + step]] if x.ndim == out.ndim - 1 else _mm(x[start:start + step], w)
            if k == 0:
                piece[...] = value
                piece += bias  # t + b: the same sum as b + t
            else:
                piece += value


def _token_lookup(out, bias, x, w):
    """For a first term of token ids x (T, B) into out (T, B, W): (table, biased) whose rows np.take
    writes straight into out's pieces — w + bias, already biased, where it has fewer rows than x has
    ids (one pass over out instead of two; each element w[v, j] + b[j], the sum `piece += bias`
    makes), else w; None where w[x] must run instead: other dtypes, or an id outside −V … V−1
    (w[x]'s IndexError; within it, mode='wrap' reads a negative id from the end as w[x] does)."""
    V = w.shape[0] if w.ndim == 2 else 0
    if (x.ndim != out.ndim - 1 or x.dtype.kind != "i" or w.ndim != 2 or w.dtype != out.dtype or V == 0
            or (x.size and (x.min() < -V or x.max() >= V))):
        return None
    bias = np.asarray(bias)
    if V < x.size and bias.dtype == out.dtype and bias.shape == (w.shape[1],):
        return w + bias, True
    return w, False


RECOMPUTE_BYTES = 1 << 26  # loss_and_grad makes the pre values again per time block above this size (64 MiB)
# ... and the step side of linear states (lower/parallel.py) above this one (1 GiB): at the width of the
# PTB-character minGRU (H = 3,690, B = 32, T = 100: 425 MB of pre values) making them again costs it 15 %
LOOP_KEEP_BYTES = 1 << 30


def _recompute(T, B, floats, itemsize, limit=RECOMPUTE_BYTES):
    """Whether loss_and_grad runs its pre phase in time blocks and makes each block's pre values
    again in the backward pass (lower/recompute.py): when keeping them over all steps would take
    more than `limit` bytes, T·B·floats·itemsize (`floats`: their widths per position)."""
    return T * B * floats * itemsize > limit


# Linear states: the associative scan or the step loop (lower/scan_choice.py), by a cost model per step of
# forward+backward fitted (bench/parallel_scan.py --fit, weighted least squares) to 30 interleaved sizes of
# minGRU, H 8-512, B 1-16, T 100-4000, float32, numpy, one BLAS thread, CPU clock, on the loaded 2-core
# development machine, 2026-12-05 (bench/README.md, "Linear recurrences"): the loop's numpy calls cost
# LOOP_STEP_US µs per step whatever the size; the scan makes ⌈log2 T⌉ passes over a step's B·w state
# floats, SCAN_PASS_NS ns per byte each (a term per byte besides fitted to ≈ 0 and is left out).  Both
# fits picked the faster side at 28 of the 30 sizes, the other two within 1.24× (timing noise).
LOOP_STEP_US = 2.3
SCAN_PASS_NS = 0.19


def _use_scan(T, B, width, itemsize):
    """Whether to run the associative scan rather than the steps, at T steps of B rows of linear
    states `width` floats wide: its ⌈log2 T⌉ passes cost less than the steps' calls,
    B·width·itemsize·SCAN_PASS_NS·⌈log2 T⌉ < 1000·LOOP_STEP_US.  Both give the same results and
    keep the same memory (lower/parallel.py: one recompute rule, `_recompute`)."""
    return B * width * itemsize * SCAN_PASS_NS * max(T - 1, 0).bit_length() < 1000.0 * LOOP_STEP_US


def _sigmoid(a):
    """σ(a) = ½ (1 + tanh(a/2)): no overflow for large |a|. One new array, the steps in place
    (the same numbers as `0.5 * (1.0 + np.tanh(0.5 * a))`, which makes four)."""
    s = np.multiply(a, 0.5)
    np.tanh(s, out=s)
    s += 1.0
    s *= 0.5
    return s


def _tanh_deriv(y):
    """tanh'(a) = 1 − y² from y = tanh(a), in one new array (= `1 - y * y`)."""
    d = np.multiply(y, y)
    return np.subtract(1, d, out=d)


def _sigmoid_deriv(y):
    """σ'(a) = y (1 − y) from y = σ(a), in one new array (= `y * (1 - y)`)."""
    d = np.subtract(1, y)
    d *= y
    return d


def _tanh_grad(g, y):
    """g ⊙ (1 − y²), the VJP of y = tanh(a), in one new array where g and y have one shape and dtype."""
    d = _tanh_deriv(y)
    if g.shape != d.shape or g.dtype != d.dtype:
        return g * d
    d *= g
    return d


def _row_sums(t):
    """Σ over the last axis: (..., W) -> (...), as one (rows × W)·(W) product (numpy's sum over a
    short last axis takes ~5× as long)."""
    return (t.reshape(-1, t.shape[-1]) @ np.ones(t.shape[-1], dtype=t.dtype)).reshape(t.shape[:-1])


def _binary_terms(a, y, prob):
    """Σ over units of softplus(a) − a y = max(a, 0) − a y − log(max(σ, 1 − σ)), prob = σ(a):
    (..., W) -> (...). One log of a number in [½, 1] instead of exp + log1p (numpy's float32 log1p
    is slow); max(a, 0) − a y as max(a − a y, −a y), the same number (numpy's maximum against the
    scalar 0 takes 3× as long as against an array). Two new (..., W) arrays, as before this form:
    a third made glibc give the freed memory back and fault it in again at every call."""
    q = np.multiply(a, y)
    t = np.subtract(a, q)
    np.negative(q, out=q)
    np.maximum(t, q, out=t)
    np.subtract(1, prob, out=q)
    np.maximum(prob, q, out=q)
    np.log(q, out=q)
    t -= q
    return _row_sums(t)


def _binary_nll(a, y):
    """Σ over units of the Bernoulli NLL of targets y given logits a: (..., W) -> (...) (_binary_terms)."""
    return _binary_terms(a, y, _sigmoid(a))


def _binary_nll_grad(a, y, scale):
    """(nll, g): nll (...) as _binary_nll, and g = scale · (σ(a) − y) (..., W), = scale · d nll / d a,
    written over σ(a); scale (..., 1) or one number."""
    g = _sigmoid(a)
    nll = _binary_terms(a, y, g)
    g -= y
    g *= scale
    return nll, g


def _relu_into(a, out):
    """out = max(a, 0), into a buffer row; bit for bit np.maximum(a, 0) (−0 -> +0, NaN kept). Against a
    zero row (W,) rather than the scalar 0: numpy's scalar-operand loop is slower (measured ~2× on
    (1024, 400) float32, ~1.3× float64); `out` may be `a`."""
    np.maximum(a, np.zeros(a.shape[-1], a.dtype), out=out)


def _normalize(a):
    """(n, r) over the last axis: n = (a − μ) r, r = 1 / √(σ² + ε) (r keeps a last axis of 1)."""
    d = a - a.mean(axis=-1, keepdims=True)
    r = 1.0 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + LN_EPS)
    return d * r, r


def _layernorm(a, gain, bias):
    """Layer norm of each position over its units: gain ⊙ n + bias."""
    return _normalize(a)[0] * gain + bias


def _layernorm_grad(a, g, gain):
    """d loss / d a = r (ĝ − mean ĝ − n mean(ĝ n)), ĝ = g ⊙ gain."""
    n, r = _normalize(a)
    gn = g * gain
    return r * (gn - gn.mean(axis=-1, keepdims=True) - n * (gn * n).mean(axis=-1, keepdims=True))


def _layernorm_gain_grad(a, g):
    """d loss / d gain = Σ over all positions of g ⊙ n: (..., W) -> (W,)."""
    n = _normalize(a)[0]
    return (g * n).reshape(-1, n.shape[-1]).sum(axis=0)


def _linear_scan(a, b, h0):
    """h_t = a_t ⊙ h_{t-1} + b_t for t = 1..T, a, b (T, B, W), h0 (B, W) -> (T, B, W), by
    recursive doubling: log2 T rounds of (a, b)_t <- (a_t a_{t-d}, a_t b_{t-d} + b_t), d = 1, 2,
    4, …, which compose the affine maps of steps t−2d+1..t; then h_t = a_t ⊙ h_0 + b_t."""
    a, b = a.copy(), b.copy()
    d = 1
    while d < len(a):
        b[d:] = a[d:] * b[:-d] + b[d:]  # the right-hand sides read the previous round only
        a[d:] = a[d:] * a[:-d]
        d *= 2
    return a * h0 + b


def _linear_scan_reverse(a, e):
    """λ_t = e_t + a_{t+1} ⊙ λ_{t+1} for t = T..1 (λ_{T+1} = 0): the adjoint of _linear_scan."""
    shifted = np.zeros_like(a)
    shifted[:-1] = a[1:]
    return _linear_scan(shifted[::-1], e[::-1], np.zeros_like(e[0]))[::-1]


def _groups(a, k):
    """(..., W·k) -> (..., W, k): unit j of the result pools inputs j·k .. j·k + k − 1."""
    return a.reshape(a.shape[:-1] + (a.shape[-1] // k, k))


def _maxout_grad(a, g, k):
    """d max_k / d a: the gradient goes to the maximal input of each group (the first, on a tie)."""
    ga = _groups(a, k)
    hit = np.arange(k) == ga.argmax(axis=-1)[..., None]
    return (hit * g[..., None]).reshape(a.shape)


def _group_reduce(ufunc, ga):
    """ufunc (np.maximum, np.add) over the last axis (k) of ga (..., W, k) -> (..., W), as k − 1
    elementwise calls: numpy's reduce over a short last axis is ~100 times slower."""
    out = ga[..., 0].copy()
    for i in range(1, ga.shape[-1]):
        ufunc(out, ga[..., i], out=out)
    return out


def _group_max(a, k):
    """max over groups of k: (..., W·k) -> (..., W)."""
    return _group_reduce(np.maximum, _groups(a, k))


def _lp_parts(a, p, k):
    """(m, r, s) with m = max(ε, max_k |a|) (..., W, 1), r = |a| / m (..., W, k) in [0, 1] and
    s = (ε/m)^p + mean_k r^p (..., W) in [1/k, 2]: no power of a number above 1 (no overflow
    in float32 at p = 60), and the value does not depend on m."""
    ga = np.abs(_groups(a, k))
    m = np.maximum(_group_reduce(np.maximum, ga), LP_EPS)[..., None]
    r = ga / m
    return m, r, (LP_EPS / m[..., 0]) ** p + _group_reduce(np.add, r ** p) / k


def _lp(a, p, k):
    """L_p pooling over groups of k: y = (ε^p + mean_k |a|^p)^(1/p) − ε, = m s^(1/p) − ε.
    y(0) = 0 and y ≈ (mean_k |a|^p)^(1/p) − ε for |a| ≫ ε."""
    m, _, s = _lp_parts(a, p, k)
    return m[..., 0] * s ** (1.0 / p) - LP_EPS


def _lp_grad(a, g, p, k):
    """dy/da_i = s^(1/p − 1) r_i^(p−1) sign(a_i) / k, bounded by k^(−1/p) (finite at a = 0)."""
    _, r, s = _lp_parts(a, p, k)
    scale = (g * s ** (1.0 / p - 1.0))[..., None] / k
    return (scale * r ** (p - 1.0) * np.sign(_groups(a, k))).reshape(a.shape)


def _log_softmax(a):
    """log softmax over the last axis: a − max a − log Σ exp(a − max a)."""
    shifted = a - a.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


SOFTMAX_BLOCK_BYTES = 1 << 21  # rows of logits per block: ~2 MB stays in L2 across the passes over it


def _row_blocks(flat):
    """Slices of consecutive rows of flat (N, V), each about SOFTMAX_BLOCK_BYTES."""
    step = max(1, SOFTMAX_BLOCK_BYTES // (flat.shape[1] * flat.itemsize))
    return [slice(start, start + step) for start in range(0, flat.shape[0], step)]


def _token_nll(a, y):
    """−log softmax(a)[y] = log Σ_v exp(a_v − max a) − (a_y − max a): logits a (..., V), which are
    not modified, and targets y (...) -> (...); block by block, so the only (·, V) temporary is one block."""
    flat, ys = a.reshape(-1, a.shape[-1]), y.reshape(-1)
    nll = np.empty(ys.shape, dtype=a.dtype)
    for rows in _row_blocks(flat):
        block, ts = flat[rows], ys[rows]
        top = block.max(axis=1)
        e = np.subtract(block, top[:, None])
        np.exp(e, out=e)
        nll[rows] = np.log(e.sum(axis=1)) - (block[np.arange(len(ts)), ts] - top)
    return nll.reshape(y.shape)


def _token_nll_grad(a, y, scale):
    """(nll, g): nll (...) as _token_nll, and g = scale · (softmax(a) − onehot(y)) (..., V),
    = scale · d nll / d a, written over the logits a (..., V), which are consumed; scale (..., 1)
    or one number.

    One block of rows at a time, in place: subtract the row max, read the targets' shifted
    logits, exponentiate, sum the rows, scale by scale / Σ, subtract scale at the targets."""
    flat, ys = a.reshape(-1, a.shape[-1]), y.reshape(-1)
    ws = np.broadcast_to(np.asarray(scale, dtype=a.dtype), y.shape + (1,)).reshape(-1)
    nll = np.empty(ys.shape, dtype=a.dtype)
    for rows in _row_blocks(flat):
        block, ts, w = flat[rows], ys[rows], ws[rows]
        at_target = (np.arange(len(ts)), ts)
        block -= block.max(axis=1, keepdims=True)
        shifted_target = block[at_target]
        np.exp(block, out=block)
        total = block.sum(axis=1)
        nll[rows] = np.log(total) - shifted_target
        block *= (w / total)[:, None]
        block[at_target] -= w
    return nll.reshape(y.shape), flat.reshape(a.shape)  # flat is a itself unless a was not contiguous


def init(rng, scheme="gaussian", scale=None, dtype=np.float32):
    """Fresh parameters for PARAMS; biases start at zero.

    Each ⊕ (SUMMARIES) is initialised as one matrix over its concatenated operands, so
    its output has the mean square of its inputs whatever the number of operands.  Its
    fan-in F is the sum of its dense operands' widths plus 1 per `token` operand (a
    one-hot vector has one non-zero input; the embedding row stands for it).

    gaussian   — every weight and embedding entry N(0, s²), s = scale or 1/√F;
    orthogonal — the dense weights are the row blocks of one (semi-)orthogonal
                 (Σ widths, out) matrix times the gain g = scale or 1;
    sparse     — GroundHog: the dense weights are the row blocks of one matrix in which each
                 unit has min(20, Σ widths) non-zero N(0, 1) inputs, rescaled to a largest
                 singular value of g = scale or 1 (not the spectral radius);
    for orthogonal and sparse an embedding table is N(0, g²/F), the mean square of one
    row of an orthonormal-column (F, out) matrix.
    """
    if scheme not in _INIT_RULES:
        raise ValueError(f"unknown init scheme {scheme!r} (choose from {', '.join(_INIT_RULES)})")
    shapes = {name: (shape, role) for name, shape, role in PARAMS}  # noqa: F821 (defined by the emitted module)
    params = {name: np.zeros(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "bias"}
    params.update({name: np.ones(shape, dtype=dtype) for name, (shape, role) in shapes.items() if role == "gain"})
    for _, names in SUMMARIES:  # noqa: F821 (defined by the emitted module)
        blocks = [shapes[name] for name in names]
        for name, w in zip(names, _INIT_RULES[scheme](rng, blocks, scale, dtype)):
            params[name] = w.astype(dtype, copy=False)
    for _, table in TIED:  # noqa: F821  a tied embedding is also the softmax: its scale, 1/√width
        params[table] = (params[table] * (1.0 / np.sqrt(shapes[table][0][1]))).astype(dtype, copy=False)
    return params


def _fan_in(blocks):
    """F of one ⊕: dense rows + 1 per embedding table."""
    return sum(shape[0] if role == "weight" else 1 for shape, role in blocks)


def _split_dense(rng, blocks, dense, gain):
    """Weights cut row-wise from `dense` (Σ rows, out); embeddings N(0, gain²/F)."""
    out, row = [], 0
    std = gain / np.sqrt(_fan_in(blocks))
    for shape, role in blocks:
        if role == "weight":
            out.append(dense[row:row + shape[0]])
            row += shape[0]
        else:
            out.append(rng.normal(0.0, std, size=shape))
    return out


def _dense_rows(blocks):
    """(Σ dense rows, out) of one ⊕."""
    return sum(shape[0] for shape, role in blocks if role == "weight"), blocks[0][0][1]


def _init_gaussian(rng, blocks, scale, dtype):
    std = scale if scale is not None else 1.0 / np.sqrt(_fan_in(blocks))
    return [_normal(rng, std, shape, dtype) for shape, _ in blocks]


def _normal(rng, std, shape, dtype):
    """N(0, std²) drawn in float64 a block of rows at a time into a `dtype` array: the same
    numbers as one draw of the whole matrix, without a float64 copy of it (2 GB at H = 16,000)."""
    w = np.empty(shape, dtype=dtype)
    rows = max(1, (1 << 16) // max(1, int(np.prod(shape[1:]))))
    for start in range(0, shape[0], rows):
        block = w[start:start + rows]
        block[...] = rng.normal(0.0, std, size=block.shape)
    return w


# orthogonal and sparse factorise the whole ⊕ matrix in float64 (their `dtype` is unused)
def _init_orthogonal(rng, blocks, scale, dtype):
    rows, cols = _dense_rows(blocks)
    gain = 1.0 if scale is None else scale
    w = np.zeros((rows, cols))
    if rows:
        q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
        w = gain * (q if rows >= cols else q.T)
    return _split_dense(rng, blocks, w, gain)


def _init_sparse(rng, blocks, scale, dtype):
    rows, cols = _dense_rows(blocks)
    gain = 1.0 if scale is None else scale
    w = np.zeros((rows, cols))
    if rows:
        nonzero = min(20, rows)
        for j in range(cols):
            w[rng.choice(rows, size=nonzero, replace=False), j] = rng.normal(size=nonzero)
        w *= gain / np.linalg.norm(w, 2)
    return _split_dense(rng, blocks, w, gain)


_INIT_RULES = {"gaussian": _init_gaussian, "orthogonal": _init_orthogonal, "sparse": _init_sparse}


def initial_state(batch_size, dtype=np.float32):
    """Zero states: name -> (B, width)."""
    return {name: np.zeros((batch_size, width), dtype=dtype) for name, width in STATES}  # noqa: F821


def draw_noise(rng, T, B, dtype=np.float32):
    """Training-noise masks name -> (T, B, width), one rule per op (_NOISE_RULES), drawn from `rng`
    in the order of DROPOUT; None without any."""
    if not DROPOUT:  # noqa: F821
        return None
    return {name: _NOISE_RULES[op](rng, T, B, width, rate).astype(dtype)
            for name, width, rate, op in DROPOUT}  # noqa: F821


_NOISE_RULES = {
    # inverted dropout: 0 or 1/(1 − rate), a fresh mask at every step
    "dropout": lambda rng, T, B, W, rate: (rng.random((T, B, W)) >= rate) / (1.0 - rate),
    # variational: one mask per sequence, the same at every step
    "vdropout": lambda rng, T, B, W, rate: np.repeat(((rng.random((1, B, W)) >= rate) / (1.0 - rate)), T, axis=0),
    # zoneout: 1 where a unit takes its new value, 0 (probability rate) where it keeps h_{t-1}
    "zoneout": lambda rng, T, B, W, rate: (rng.random((T, B, W)) >= rate) * 1.0,
}
