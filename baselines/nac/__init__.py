"""Neural audio codecs (DAC, EnCodec, Custom DAC) + Rice-coded residuals (the paper's Appendix B)."""
