//! The fused block's arithmetic on plain `f32` slices (NCHW tensors, row-major matrices):
//! im2col, one GEMM, bias, ReLU and the 2×2 max-pool forward; backward, the gradients of the
//! weight, the bias and the input.
//!
//! The patch matrix has one row per conv output position the pool reads, ordered window by
//! window (image, pooled row, pooled column, then the window's four positions), so pooling reads
//! four consecutive rows and a row or column an odd size leaves out of every window is never
//! computed. Work is split over images (rayon) and the GEMM uses the `gemm` crate's threads.
//!
//! Backward uses what max-pooling leaves: of each window's four conv outputs per channel only the
//! one the maximum came from receives gradient, so instead of two dense GEMMs over a gradient
//! that is three quarters zeros, each window adds its winning patch row (times the gradient) to
//! the weight gradient and the weight row to the winning patch's gradient: a quarter of the
//! multiply-adds.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// Patch-matrix entries an inference pass holds at once (about 16 MB): a test split goes through
/// in chunks of images, so its size never decides the memory a forward pass takes.
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
pub struct Dims {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub out: usize,
}

impl Dims {
    /// The pooled output's height and width.
    pub fn pooled(&self) -> [usize; 2] {
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
}

/// What the backward pass needs from the forward one.
#[derive(Debug, Clone)]
pub struct Saved {
    pub dims: Dims,
    /// `[rows, channels·9]`, rows as described in the module documentation.
    pub patches: Vec<f32>,
    /// Per window and output channel, which of the window's positions held the maximum
    /// ([`NONE`]: none was positive).
    pub argmax: Vec<u8>,
}

/// `maxpool2(relu(conv3x3(x, weight, padding 1) + bias))` as NCHW `[batch, out, h/2, w/2]`,
/// and, with `keep`, what the backward pass needs (without, the forward runs in chunks of images
/// and keeps nothing: the returned [`Saved`] is empty).
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], dims: Dims, keep: bool) -> (Vec<f32>, Saved) {
    let (windows, patch) = (dims.windows(), dims.patch());
    let mut output = vec![0f32; dims.batch * dims.output_image()];
    if windows == 0 || dims.batch == 0 {
        return (output, Saved { dims, patches: Vec::new(), argmax: Vec::new() });
    }
    let per_chunk = if keep { dims.batch } else { (PATCH_BUDGET / (windows * 4 * patch)).clamp(1, dims.batch) };
    let mut patches = Vec::new();
    let mut argmax = vec![0u8; if keep { dims.batch * windows * dims.out } else { 0 }];
    let mut scratch_argmax = Vec::new();
    let mut conv = Vec::new();
    for first in (0..dims.batch).step_by(per_chunk) {
        let images = per_chunk.min(dims.batch - first);
        let chunk = Dims { batch: images, ..dims };
        im2col(&x[first * dims.image()..(first + images) * dims.image()], chunk, &mut patches);
        convolve(&patches, weight, bias, chunk, &mut conv);
        let out = &mut output[first * dims.output_image()..(first + images) * dims.output_image()];
        let arg = if keep {
            &mut argmax[first * windows * dims.out..(first + images) * windows * dims.out]
        } else {
            scratch_argmax.resize(images * windows * dims.out, 0);
            &mut scratch_argmax[..]
        };
        relu_pool(&conv, chunk, out, arg);
    }
    if !keep {
        patches = Vec::new();
    }
    (output, Saved { dims, patches, argmax })
}

/// The gradients of [`forward`]'s output `grad` (NCHW, as the output) with respect to the input
/// (when `need_input`), the weight `[out, channels, 3, 3]` and the bias `[out]`.
pub fn backward(
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
        let mut input_grad = vec![0f32; dims.batch * dims.image()];
        input_grad.par_chunks_mut(dims.image().max(1)).zip(images()).for_each(|(input_grad, image)| {
            image.add_input_grad(dims, weight, input_grad);
        });
        input_grad
    });
    (input_grad, weight_grad, bias_grad)
}

/// One image's share of the backward pass: its output gradient, its pool choices and its patches.
struct Image<'a> {
    grad: &'a [f32],
    argmax: &'a [u8],
    patches: &'a [f32],
}

impl Image<'_> {
    /// The image's pooled gradients with where each came from, window by window.
    fn winners(&self, dims: Dims) -> impl Iterator<Item = (usize, usize, usize, f32)> + '_ {
        let (windows, out) = (dims.windows(), dims.out);
        (0..windows).flat_map(move |window| {
            (0..out).filter_map(move |channel| {
                let at = self.argmax[window * out + channel];
                (at != NONE).then(|| (window, at as usize, channel, self.grad[channel * windows + window]))
            })
        })
    }

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

    #[inline(always)]
    fn add_parameter_grads_plain(&self, dims: Dims, weight_grad: &mut [f32], bias_grad: &mut [f32]) {
        let patch = dims.patch();
        for (window, at, channel, g) in self.winners(dims) {
            let row = &self.patches[(window * 4 + at) * patch..][..patch];
            axpy(g, row, &mut weight_grad[channel * patch..][..patch]);
            bias_grad[channel] += g;
        }
    }

    /// Adds the image's input gradient: each window's patch gradients (the weight rows times
    /// their gradients) put back where the patches were read.
    fn add_input_grad(&self, dims: Dims, weight: &[f32], input_grad: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { self.add_input_grad_avx2(dims, weight, input_grad) };
            return;
        }
        self.add_input_grad_plain(dims, weight, input_grad);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add_input_grad_avx2(&self, dims: Dims, weight: &[f32], input_grad: &mut [f32]) {
        self.add_input_grad_plain(dims, weight, input_grad);
    }

    #[inline(always)]
    fn add_input_grad_plain(&self, dims: Dims, weight: &[f32], input_grad: &mut [f32]) {
        let patch = dims.patch();
        let mut quad = vec![0f32; 4 * patch];
        let mut current = None;
        for (window, at, channel, g) in self.winners(dims) {
            if current != Some(window) {
                if let Some(done) = current {
                    add_window(&quad, done, dims, input_grad);
                    quad.iter_mut().for_each(|v| *v = 0.0);
                }
                current = Some(window);
            }
            axpy(g, &weight[channel * patch..][..patch], &mut quad[at * patch..][..patch]);
        }
        if let Some(done) = current {
            add_window(&quad, done, dims, input_grad);
        }
    }
}

/// `y += a·x` (vectorised in the callers' AVX2 variants; no `mul_add`, which is a library call
/// on baseline x86-64).
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

/// Whether the CPU runs the AVX2 and FMA variants (checked once per image, not per loop).
#[cfg(target_arch = "x86_64")]
fn simd_available() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Adds a window's four patch gradients back to the input positions they were read from.
#[inline(always)]
fn add_window(quad: &[f32], window: usize, dims: Dims, image: &mut [f32]) {
    let patch = dims.patch();
    let [_, pooled_width] = dims.pooled();
    let (height, width) = (dims.height as isize, dims.width as isize);
    for (quarter, row) in quad.chunks_exact(patch).enumerate() {
        let h = (2 * (window / pooled_width) + quarter / 2) as isize;
        let w = (2 * (window % pooled_width) + quarter % 2) as isize;
        for (channel, taps) in row.chunks_exact(9).enumerate() {
            let plane = &mut image[channel * dims.height * dims.width..(channel + 1) * dims.height * dims.width];
            for (tap, value) in taps.iter().enumerate() {
                let (y, x) = (h + tap as isize / 3 - 1, w + tap as isize % 3 - 1);
                if (0..height).contains(&y) && (0..width).contains(&x) {
                    plane[(y * width + x) as usize] += value;
                }
            }
        }
    }
}

/// The patch matrix of `x` (`dims.batch` images) into `patches`, reusing its allocation.
fn im2col(x: &[f32], dims: Dims, patches: &mut Vec<f32>) {
    let (windows, patch) = (dims.windows(), dims.patch());
    let [_, pooled_width] = dims.pooled();
    let (height, width) = (dims.height as isize, dims.width as isize);
    patches.clear();
    patches.resize(dims.batch * windows * 4 * patch, 0.0);
    patches.par_chunks_mut(windows * 4 * patch).zip(x.par_chunks(dims.image())).for_each(|(rows, image)| {
        for (position, row) in rows.chunks_exact_mut(patch).enumerate() {
            let (window, quarter) = (position / 4, position % 4);
            let h = (2 * (window / pooled_width) + quarter / 2) as isize;
            let w = (2 * (window % pooled_width) + quarter % 2) as isize;
            for (channel, taps) in row.chunks_exact_mut(9).enumerate() {
                let plane = &image[channel * dims.height * dims.width..(channel + 1) * dims.height * dims.width];
                for (tap, value) in taps.iter_mut().enumerate() {
                    let (y, x) = (h + tap as isize / 3 - 1, w + tap as isize % 3 - 1);
                    *value = if (0..height).contains(&y) && (0..width).contains(&x) {
                        plane[(y * width + x) as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    });
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
        .for_each(|((image, arg), rows)| {
            for (window, quad) in rows.chunks_exact(4 * out).enumerate() {
                for channel in 0..out {
                    let (mut best, mut at) = (0f32, NONE);
                    for quarter in 0..4 {
                        let value = quad[quarter * out + channel];
                        if value > best {
                            best = value;
                            at = quarter as u8;
                        }
                    }
                    image[channel * windows + window] = best;
                    arg[window * out + channel] = at;
                }
            }
        });
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
        for i in 0..3 {
            let n = numeric(b.clone(), i, &|v| loss(&x, &w, v));
            assert!((n - f64::from(db[i])).abs() < 2e-2, "db[{i}]: {n} vs {}", db[i]);
        }
    }
}
