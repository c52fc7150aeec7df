"""The hybrid learned coder: a cascade of integer adaptive predictors and a small integer network.

Per channel, a backward-adaptive cascade (an LPC stage re-solved by exponentially weighted least squares,
then normalized-LMS stages on each other's residuals; the second
stereo channel also sees the first channel's current residual) predicts the next sample; a small
network, fed the cascade's predictions, running residual scales and recent residuals, turns that into
a mixture of logistics over the next value. Every step the decoder repeats is integer arithmetic with
defined rounding (:mod:`trilobyte.hybrid.kernel`), so a file decodes bit for bit on any machine.
"""
