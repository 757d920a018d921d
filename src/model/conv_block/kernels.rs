//! The fused block's arithmetic on plain `f32` slices (NCHW tensors, row-major matrices):
//! im2col, one GEMM, bias, ReLU and the 2×2 max-pool forward; backward, the gradients of the
//! weight, the bias and the input.
//!
//! The patch matrix has one row per conv output position the pool reads, ordered window by
//! window (image, pooled row, pooled column, then the window's four positions), so pooling reads
//! four consecutive rows and a row or column an odd size leaves out of every window is never
//! computed. A row's entries are channels-last (kernel row, kernel column, channel): each image
//! is first copied into a zero-bordered channels-last buffer, so a row is three contiguous copies
//! of `3·channels` values with no bounds checks, and the weight is permuted to match (and its
//! gradient permuted back). Work is split over images (rayon) and the GEMM uses the `gemm`
//! crate's threads.
//!
//! Backward uses what max-pooling leaves: of each window's four conv outputs per channel only the
//! one the maximum came from receives gradient, so instead of two dense GEMMs over a gradient
//! that is three quarters zeros, each window adds its winning patch row (times the gradient) to
//! the weight gradient and the weight row to the winning patch's gradient: a quarter of the
//! multiply-adds.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Patch-matrix entries an inference pass holds at once (about 16 MB): a test split goes through
/// in chunks of images, so its size never decides the memory a forward pass takes. (A training
/// pass keeps every patch for backward and goes through the batch at once: chunks sized to the
/// L2 cache measured no faster, and made the first block's small GEMMs single-threaded.)
const PATCH_BUDGET: usize = 4 << 20;
/// GEMMs smaller than this many multiply-adds run on one thread (threads cost more than they
/// save there).
const PARALLEL_FLOPS: usize = 4 << 20;
/// No position of the window holds a positive value: the output is 0 and passes no gradient.
const NONE: u8 = 4;
/// The weight gradient is summed in this many parts (in parallel), then the parts in order.
const PARTIAL_SUMS: usize = 8;

/// The dimensions of one block: its input `[batch, channels, height, width]` and output channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub(crate) batch: usize,
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) out: usize,
}

impl Dims {
    /// The pooled output's height and width.
    pub(crate) fn pooled(&self) -> [usize; 2] {
        [self.height / 2, self.width / 2]
    }

    /// Pool windows per image.
    fn windows(&self) -> usize {
        let [h, w] = self.pooled();
        h * w
    }

    /// Entries of one patch: every input channel's 3×3 neighbourhood.
    fn patch(&self) -> usize {
        self.channels * 9
    }

    /// Values of one input image.
    fn image(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Values of one output image.
    fn output_image(&self) -> usize {
        self.out * self.windows()
    }

    /// Values of one image channels-last with a border of zeros: `(h+2)·(w+2)·channels`.
    fn padded_image(&self) -> usize {
        (self.height + 2) * (self.width + 2) * self.channels
    }

    /// Where the patch row of conv output position `(h, w)` starts in the padded image: the
    /// top-left tap `(h-1, w-1)`, whose padded coordinates are `(h, w)`.
    fn padded_offset(&self, position: usize) -> usize {
        let [_, pooled_width] = self.pooled();
        let (window, quarter) = (position / 4, position % 4);
        let h = 2 * (window / pooled_width) + quarter / 2;
        let w = 2 * (window % pooled_width) + quarter % 2;
        (h * (self.width + 2) + w) * self.channels
    }
}

/// What the backward pass needs from the forward one.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub(crate) dims: Dims,
    /// `[rows, 9·channels]`, rows and entries as described in the module documentation.
    pub(crate) patches: Vec<f32>,
    /// Per window and output channel, which of the window's positions held the maximum
    /// ([`NONE`]: none was positive).
    pub(crate) argmax: Vec<u8>,
}

/// `maxpool2(relu(conv3x3(x, weight, padding 1) + bias))` as NCHW `[batch, out, h/2, w/2]`,
/// and, with `keep`, what the backward pass needs (without, the forward runs in chunks of images
/// and keeps nothing: the returned [`Saved`] is empty).
pub(crate) fn forward(x: &[f32], weight: &[f32], bias: &[f32], dims: Dims, keep: bool) -> (Vec<f32>, Saved) {
    let (windows, patch) = (dims.windows(), dims.patch());
    let mut output = vec![0f32; dims.batch * dims.output_image()];
    if windows == 0 || dims.batch == 0 {
        return (output, Saved { dims, patches: Vec::new(), argmax: Vec::new() });
    }
    let per_chunk = if keep { dims.batch } else { (PATCH_BUDGET / (windows * 4 * patch)).clamp(1, dims.batch) };
    let (patches_per_image, argmax_per_image) = (windows * 4 * patch, windows * dims.out);
    let mut patches: Vec<f32> = Vec::with_capacity(per_chunk * patches_per_image);
    let mut argmax = vec![0u8; per_chunk * argmax_per_image];
    let mut conv = Vec::new();
    let weight = channels_last(weight, dims);
    for first in (0..dims.batch).step_by(per_chunk) {
        let images = per_chunk.min(dims.batch - first);
        let chunk = Dims { batch: images, ..dims };
        // Where the chunk goes: at its images' place when kept, over the previous chunk if not.
        let slot = if keep { first } else { 0 };
        let unfilled = &mut patches.spare_capacity_mut()[slot * patches_per_image..][..images * patches_per_image];
        im2col(&x[first * dims.image()..][..images * dims.image()], chunk, unfilled);
        // SAFETY: im2col writes every entry of the slice it is given.
        let chunk_patches: &[f32] = unsafe { unfilled.assume_init_ref() };
        convolve(chunk_patches, &weight, bias, chunk, &mut conv);
        let out = &mut output[first * dims.output_image()..][..images * dims.output_image()];
        relu_pool(&conv, chunk, out, &mut argmax[slot * argmax_per_image..][..images * argmax_per_image]);
    }
    if keep {
        // SAFETY: every chunk's patches were written above, at their images' place.
        unsafe { patches.set_len(dims.batch * patches_per_image) };
    } else {
        (patches, argmax) = (Vec::new(), Vec::new());
    }
    (output, Saved { dims, patches, argmax })
}

/// The gradients of [`forward`]'s output `grad` (NCHW, as the output) with respect to the input
/// (when `need_input`), the weight `[out, channels, 3, 3]` and the bias `[out]`.
pub(crate) fn backward(
    grad: &[f32],
    weight: &[f32],
    saved: &Saved,
    need_input: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let dims = saved.dims;
    let (windows, patch, out) = (dims.windows(), dims.patch(), dims.out);
    let images = || {
        grad.par_chunks(dims.output_image().max(1))
            .zip(saved.argmax.par_chunks((windows * out).max(1)))
            .zip(saved.patches.par_chunks((windows * 4 * patch).max(1)))
            .map(|((grad, argmax), patches)| Image { grad, argmax, patches })
    };
    // Fixed runs of images are summed in parallel and their sums added in order, so the result
    // does not depend on how the threads shared the work: same seed, same weights.
    let images_per_sum = dims.batch.div_ceil(PARTIAL_SUMS).max(1);
    let partial_sums: Vec<(Vec<f32>, Vec<f32>)> = images()
        .chunks(images_per_sum)
        .map(|run| {
            let (mut weight_grad, mut bias_grad) = (vec![0f32; out * patch], vec![0f32; out]);
            for image in run {
                image.add_parameter_grads(dims, &mut weight_grad, &mut bias_grad);
            }
            (weight_grad, bias_grad)
        })
        .collect();
    let (mut weight_grad, mut bias_grad) = (vec![0f32; out * patch], vec![0f32; out]);
    for (w, b) in partial_sums {
        weight_grad.iter_mut().zip(w).for_each(|(sum, w)| *sum += w);
        bias_grad.iter_mut().zip(b).for_each(|(sum, b)| *sum += b);
    }
    let input_grad = need_input.then(|| {
        let weight = channels_last(weight, dims);
        let mut input_grad = vec![0f32; dims.batch * dims.image()];
        input_grad.par_chunks_mut(dims.image().max(1)).zip(images()).for_each_init(
            || vec![0f32; dims.padded_image()],
            |padded, (input_grad, image)| {
                padded.fill(0.0);
                image.add_input_grad(dims, &weight, padded);
                from_padded(padded, dims, input_grad);
            },
        );
        input_grad
    });
    (input_grad, channels_first(&weight_grad, dims), bias_grad)
}

/// One image's share of the backward pass: its output gradient, its pool choices and its patches.
struct Image<'a> {
    grad: &'a [f32],
    argmax: &'a [u8],
    patches: &'a [f32],
}

impl Image<'_> {
    /// Adds the image's weight and bias gradients: each winning patch row times its gradient.
    fn add_parameter_grads(&self, dims: Dims, weight_grad: &mut [f32], bias_grad: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { self.add_parameter_grads_avx2(dims, weight_grad, bias_grad) };
            return;
        }
        self.add_parameter_grads_plain(dims, weight_grad, bias_grad);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add_parameter_grads_avx2(&self, dims: Dims, weight_grad: &mut [f32], bias_grad: &mut [f32]) {
        self.add_parameter_grads_plain(dims, weight_grad, bias_grad);
    }

    /// Channel by channel, a slice of the channel's weight gradient is summed over the image's
    /// windows in registers and added once: one read of each winning patch value per
    /// multiply-add. (Blocking the windows so that their rows stay in the L1 cache measured no
    /// faster on the kd teacher's shapes.)
    #[inline(always)]
    fn add_parameter_grads_plain(&self, dims: Dims, weight_grad: &mut [f32], bias_grad: &mut [f32]) {
        let (windows, out, patch) = (dims.windows(), dims.out, dims.patch());
        let mut winners: Vec<(usize, f32)> = Vec::with_capacity(windows);
        for channel in 0..out {
            winners.clear();
            for window in 0..windows {
                let at = self.argmax[window * out + channel];
                if at != NONE {
                    winners.push(((window * 4 + at as usize) * patch, self.grad[channel * windows + window]));
                }
            }
            bias_grad[channel] += winners.iter().map(|(_, g)| g).sum::<f32>();
            let row = &mut weight_grad[channel * patch..][..patch];
            for start in (0..patch).step_by(LANES) {
                let len = LANES.min(patch - start);
                let sum = weighted_sum(self.patches, &winners, start, len);
                row[start..start + len].iter_mut().zip(&sum).for_each(|(w, s)| *w += s);
            }
        }
    }

    /// Adds the image's input gradient to `padded` (channels-last, zero-bordered): each window's
    /// patch gradients (the weight rows times their gradients) put back where they were read.
    fn add_input_grad(&self, dims: Dims, weight: &[f32], padded: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { self.add_input_grad_avx2(dims, weight, padded) };
            return;
        }
        self.add_input_grad_plain(dims, weight, padded);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add_input_grad_avx2(&self, dims: Dims, weight: &[f32], padded: &mut [f32]) {
        self.add_input_grad_plain(dims, weight, padded);
    }

    /// Window by window, each of its four patch gradients is the sum of the weight rows of the
    /// channels whose maximum came from that position, times their gradients, summed in
    /// registers slice by slice.
    #[inline(always)]
    fn add_input_grad_plain(&self, dims: Dims, weight: &[f32], padded: &mut [f32]) {
        let (windows, out, patch) = (dims.windows(), dims.out, dims.patch());
        let mut quad = vec![0f32; 4 * patch];
        let mut by_quarter: [Vec<(usize, f32)>; 4] = std::array::from_fn(|_| Vec::with_capacity(out));
        for window in 0..windows {
            by_quarter.iter_mut().for_each(Vec::clear);
            for channel in 0..out {
                let at = self.argmax[window * out + channel];
                if at != NONE {
                    by_quarter[at as usize].push((channel * patch, self.grad[channel * windows + window]));
                }
            }
            for (quarter, winners) in by_quarter.iter().enumerate() {
                let quarter_grad = &mut quad[quarter * patch..][..patch];
                for start in (0..patch).step_by(LANES) {
                    let len = LANES.min(patch - start);
                    let sum = weighted_sum(weight, winners, start, len);
                    quarter_grad[start..start + len].copy_from_slice(&sum[..len]);
                }
            }
            add_window(&quad, window, dims, padded);
        }
    }
}

/// Values summed in registers at a time: twelve 8-wide AVX registers.
const LANES: usize = 96;

/// `Σ g·rows[offset + start ..][..len]` over `(offset, g)` pairs, in the first `len` of
/// `LANES` sums.
#[inline(always)]
fn weighted_sum(rows: &[f32], winners: &[(usize, f32)], start: usize, len: usize) -> [f32; LANES] {
    #[cfg(target_arch = "x86_64")]
    if len == LANES && simd_available() {
        // SAFETY: the CPU supports AVX2 and FMA.
        return unsafe { weighted_sum_avx2(rows, winners, start) };
    }
    let mut sum = [0f32; LANES];
    for &(offset, g) in winners {
        sum.iter_mut().zip(&rows[offset + start..][..len]).for_each(|(s, x)| *s += g * x);
    }
    sum
}

/// [`weighted_sum`] of full `LANES`-wide slices with twelve AVX accumulators held in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum_avx2(rows: &[f32], winners: &[(usize, f32)], start: usize) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    const REGISTERS: usize = LANES / 8;
    let mut acc: [__m256; REGISTERS] = [_mm256_setzero_ps(); REGISTERS];
    for &(offset, g) in winners {
        let row = &rows[offset + start..offset + start + LANES];
        let g = _mm256_set1_ps(g);
        for (k, register) in acc.iter_mut().enumerate() {
            // SAFETY: `row` holds LANES values; each load reads 8 of them at k·8 < LANES.
            *register = _mm256_fmadd_ps(g, unsafe { _mm256_loadu_ps(row.as_ptr().add(k * 8)) }, *register);
        }
    }
    let mut sum = [0f32; LANES];
    for (k, register) in acc.iter().enumerate() {
        // SAFETY: `sum` holds LANES values; each store writes 8 of them at k·8 < LANES.
        unsafe { _mm256_storeu_ps(sum.as_mut_ptr().add(k * 8), *register) };
    }
    sum
}

/// Whether the CPU runs the AVX2 and FMA variants (checked once per image, not per loop).
#[cfg(target_arch = "x86_64")]
fn simd_available() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Adds a window's four patch gradients back to the padded positions they were read from.
#[inline(always)]
fn add_window(quad: &[f32], window: usize, dims: Dims, padded: &mut [f32]) {
    let span = 3 * dims.channels;
    let line = (dims.width + 2) * dims.channels;
    for (quarter, row) in quad.chunks_exact(dims.patch()).enumerate() {
        let start = dims.padded_offset(window * 4 + quarter);
        for (kernel_row, taps) in row.chunks_exact(span).enumerate() {
            let target = &mut padded[start + kernel_row * line..][..span];
            target.iter_mut().zip(taps).for_each(|(t, v)| *t += v);
        }
    }
}

/// The weight `[out, channels, 3, 3]` with each output channel's row channels-last:
/// `[out, 3, 3, channels]`, the patch rows' order.
fn channels_last(weight: &[f32], dims: Dims) -> Vec<f32> {
    let channels = dims.channels;
    let mut permuted = vec![0f32; weight.len()];
    for (row, permuted_row) in weight.chunks_exact(dims.patch()).zip(permuted.chunks_exact_mut(dims.patch())) {
        for (channel, taps) in row.chunks_exact(9).enumerate() {
            for (tap, &value) in taps.iter().enumerate() {
                permuted_row[tap * channels + channel] = value;
            }
        }
    }
    permuted
}

/// [`channels_last`] undone: a weight-shaped gradient back to `[out, channels, 3, 3]`.
fn channels_first(grad: &[f32], dims: Dims) -> Vec<f32> {
    let channels = dims.channels;
    let mut permuted = vec![0f32; grad.len()];
    for (row, permuted_row) in grad.chunks_exact(dims.patch()).zip(permuted.chunks_exact_mut(dims.patch())) {
        for (channel, taps) in permuted_row.chunks_exact_mut(9).enumerate() {
            for (tap, value) in taps.iter_mut().enumerate() {
                *value = row[tap * channels + channel];
            }
        }
    }
    permuted
}

/// One NCHW image into the interior of a zero-bordered channels-last buffer (the border is left
/// as it is: zero, since only the interior is ever written).
fn to_padded(image: &[f32], dims: Dims, padded: &mut [f32]) {
    let (channels, plane) = (dims.channels, dims.height * dims.width);
    for y in 0..dims.height {
        for x in 0..dims.width {
            let at = ((y + 1) * (dims.width + 2) + x + 1) * channels;
            let pixel = &mut padded[at..][..channels];
            for (channel, value) in pixel.iter_mut().enumerate() {
                *value = image[channel * plane + y * dims.width + x];
            }
        }
    }
}

/// The interior of a zero-bordered channels-last buffer added to an NCHW image. Out of line so
/// that profiles name it.
#[inline(never)]
fn from_padded(padded: &[f32], dims: Dims, image: &mut [f32]) {
    let (channels, plane) = (dims.channels, dims.height * dims.width);
    for y in 0..dims.height {
        for x in 0..dims.width {
            let at = ((y + 1) * (dims.width + 2) + x + 1) * channels;
            for (channel, &value) in padded[at..][..channels].iter().enumerate() {
                image[channel * plane + y * dims.width + x] += value;
            }
        }
    }
}

/// The patch matrix of `x` (`dims.batch` images) into `patches`, every entry written.
fn im2col(x: &[f32], dims: Dims, patches: &mut [MaybeUninit<f32>]) {
    let (windows, patch) = (dims.windows(), dims.patch());
    patches.par_chunks_mut(windows * 4 * patch).zip(x.par_chunks(dims.image())).for_each_init(
        || vec![0f32; dims.padded_image()],
        |padded, (rows, image)| image_patches(image, dims, padded, rows),
    );
}

/// One image's patch rows, through `padded` (a zero-bordered channels-last buffer of the image's
/// size whose border is zero). Out of line so that profiles name it.
#[inline(never)]
fn image_patches(image: &[f32], dims: Dims, padded: &mut [f32], rows: &mut [MaybeUninit<f32>]) {
    let (span, line) = (3 * dims.channels, (dims.width + 2) * dims.channels);
    to_padded(image, dims, padded);
    for (position, row) in rows.chunks_exact_mut(dims.patch()).enumerate() {
        let start = dims.padded_offset(position);
        for (kernel_row, taps) in row.chunks_exact_mut(span).enumerate() {
            taps.write_copy_of_slice(&padded[start + kernel_row * line..][..span]);
        }
    }
}

/// `conv[rows, out] = bias + patches · weightᵀ`, reusing the allocation of `conv`.
fn convolve(patches: &[f32], weight: &[f32], bias: &[f32], dims: Dims, conv: &mut Vec<f32>) {
    let (rows, patch, out) = (dims.batch * dims.windows() * 4, dims.patch(), dims.out);
    conv.clear();
    conv.reserve(rows * out);
    for _ in 0..rows {
        conv.extend_from_slice(bias);
    }
    multiply(
        Operand { data: patches, row_stride: patch as isize, col_stride: 1 },
        Operand { data: weight, row_stride: 1, col_stride: patch as isize },
        [rows, out, patch],
        conv,
        true,
    );
}

/// ReLU then the max of each window's four rows, written as NCHW; records where each maximum was.
fn relu_pool(conv: &[f32], dims: Dims, output: &mut [f32], argmax: &mut [u8]) {
    let (windows, out) = (dims.windows(), dims.out);
    output
        .par_chunks_mut(dims.output_image())
        .zip(argmax.par_chunks_mut(windows * out))
        .zip(conv.par_chunks(windows * 4 * out))
        .for_each_init(|| vec![0f32; out], |best, ((image, at), rows)| pool_image(rows, dims, image, at, best));
}

/// [`relu_pool`] of one image's conv rows, with `best` (`out` values) as scratch. Out of line so
/// that profiles name it.
#[inline(never)]
fn pool_image(rows: &[f32], dims: Dims, image: &mut [f32], argmax: &mut [u8], best: &mut [f32]) {
    let (windows, out) = (dims.windows(), dims.out);
    for (window, quad) in rows.chunks_exact(4 * out).enumerate() {
        // Channel-wise over the four rows, branch-free so it vectorises: the maximum of ReLU,
        // then the first row holding it (none when it is not positive).
        best.fill(0.0);
        for row in quad.chunks_exact(out) {
            best.iter_mut().zip(row).for_each(|(b, &value)| *b = b.max(value));
        }
        let at = &mut argmax[window * out..][..out];
        at.fill(NONE);
        for (quarter, row) in quad.chunks_exact(out).enumerate().rev() {
            for ((a, &b), &value) in at.iter_mut().zip(best.iter()).zip(row) {
                *a = if value == b && b > 0.0 { quarter as u8 } else { *a };
            }
        }
        for (channel, &value) in best.iter().enumerate() {
            image[channel * windows + window] = value;
        }
    }
}

/// A matrix operand: its values and how far apart (in values) consecutive rows and columns are.
struct Operand<'a> {
    data: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

/// `dst = (dst if accumulate) + lhs · rhs`, row-major `dst`; threads for large products.
fn multiply(lhs: Operand, rhs: Operand, [m, n, k]: [usize; 3], dst: &mut [f32], accumulate: bool) {
    assert!(dst.len() >= m * n, "matmul destination too small");
    let parallelism =
        if m * n * k >= PARALLEL_FLOPS { Parallelism::Rayon(rayon::current_num_threads()) } else { Parallelism::None };
    // SAFETY: every operand slice covers the strided extent gemm reads (rows·row_stride +
    // cols·col_stride within bounds by construction of the callers' shapes), and `dst` holds
    // `m·n` values laid out row-major with no aliasing.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic pseudo-random sequence.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The plain definition: conv, ReLU, pool, with the loops written out.
    fn reference(x: &[f32], weight: &[f32], bias: &[f32], d: Dims) -> Vec<f32> {
        let [ph, pw] = d.pooled();
        let conv = |n: usize, o: usize, h: isize, w: isize| {
            let mut sum = bias[o];
            for c in 0..d.channels {
                for kh in 0..3isize {
                    for kw in 0..3isize {
                        let (y, xx) = (h + kh - 1, w + kw - 1);
                        if y >= 0 && xx >= 0 && (y as usize) < d.height && (xx as usize) < d.width {
                            let input = x[((n * d.channels + c) * d.height + y as usize) * d.width + xx as usize];
                            sum += input * weight[((o * d.channels + c) * 3 + kh as usize) * 3 + kw as usize];
                        }
                    }
                }
            }
            sum.max(0.0)
        };
        let mut out = Vec::new();
        for n in 0..d.batch {
            for o in 0..d.out {
                for i in 0..ph {
                    for j in 0..pw {
                        let (h, w) = (2 * i as isize, 2 * j as isize);
                        let m =
                            [conv(n, o, h, w), conv(n, o, h, w + 1), conv(n, o, h + 1, w), conv(n, o, h + 1, w + 1)];
                        out.push(m.into_iter().fold(0.0, f32::max));
                    }
                }
            }
        }
        out
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "at {i}: {x} vs {y}");
        }
    }

    #[test]
    fn forward_matches_the_definition_on_odd_sizes() {
        let d = Dims { batch: 3, channels: 2, height: 7, width: 5, out: 4 };
        let (x, w, b) = (values(3 * 2 * 35, 1), values(4 * 2 * 9, 2), values(4, 3));
        let (kept, saved) = forward(&x, &w, &b, d, true);
        close(&kept, &reference(&x, &w, &b, d));
        assert_eq!(saved.patches.len(), 3 * 6 * 4 * 18);
        let (streamed, _) = forward(&x, &w, &b, d, false);
        close(&streamed, &kept);
    }

    /// An inference pass over more images than one chunk's patches hold gives what the training
    /// pass (the whole batch at once) gives.
    #[test]
    fn an_inference_pass_in_chunks_matches_the_training_pass() {
        let d = Dims { batch: 2000, channels: 16, height: 6, width: 7, out: 4 };
        assert!(d.batch * d.windows() * 4 * d.patch() > 2 * PATCH_BUDGET, "at least three chunks");
        let (x, w, b) = (values(d.batch * d.image(), 8), values(4 * 16 * 9, 9), values(4, 10));
        let (streamed, saved) = forward(&x, &w, &b, d, false);
        assert!(saved.patches.is_empty() && saved.argmax.is_empty());
        close(&streamed, &forward(&x, &w, &b, d, true).0);
    }

    /// The loss `Σ output · g` and its gradient by finite differences on a few entries.
    #[test]
    fn backward_matches_finite_differences() {
        let d = Dims { batch: 2, channels: 2, height: 6, width: 6, out: 3 };
        let (x, w, b) = (values(2 * 2 * 36, 4), values(3 * 2 * 9, 5), values(3, 6));
        let g = values(2 * 3 * 9, 7);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            forward(x, w, b, d, false).0.iter().zip(&g).map(|(o, g)| f64::from(o * g)).sum()
        };
        let (_, saved) = forward(&x, &w, &b, d, true);
        let (dx, dw, db) = backward(&g, &w, &saved, true);
        let dx = dx.unwrap();
        let step = 1e-3f32;
        let numeric = |mut v: Vec<f32>, i: usize, f: &dyn Fn(&[f32]) -> f64| {
            v[i] += step;
            let up = f(&v);
            v[i] -= 2.0 * step;
            (up - f(&v)) / (2.0 * f64::from(step))
        };
        for i in [0, 17, 40, 71, 100, 143] {
            let n = numeric(x.clone(), i, &|v| loss(v, &w, &b));
            assert!((n - f64::from(dx[i])).abs() < 2e-2, "dx[{i}]: {n} vs {}", dx[i]);
        }
        for i in [0, 9, 26, 35, 53] {
            let n = numeric(w.clone(), i, &|v| loss(&x, v, &b));
            assert!((n - f64::from(dw[i])).abs() < 2e-2, "dw[{i}]: {n} vs {}", dw[i]);
        }
        for (i, &analytic) in db.iter().enumerate() {
            let n = numeric(b.clone(), i, &|v| loss(&x, &w, v));
            assert!((n - f64::from(analytic)).abs() < 2e-2, "db[{i}]: {n} vs {analytic}");
        }
    }
}
