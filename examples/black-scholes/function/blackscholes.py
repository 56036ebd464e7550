"""Black-Scholes prices and deltas of European options, with the standard library only."""
import math


def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def price_option(S, K, T, r, sigma, kind="call"):
    """Price and delta of a European call or put.

    S spot, K strike, T years to expiry, r risk-free rate, sigma volatility (per year).
    """
    if S <= 0 or K <= 0:
        raise ValueError(f"S and K must be positive (S={S}, K={K})")
    if T <= 0 or sigma <= 0:
        raise ValueError(f"T and sigma must be positive (T={T}, sigma={sigma})")
    if kind not in ("call", "put"):
        raise ValueError(f"kind must be 'call' or 'put', not {kind!r}")
    d1 = (math.log(S / K) + (r + 0.5 * sigma * sigma) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    if kind == "call":
        price = S * normal_cdf(d1) - K * math.exp(-r * T) * normal_cdf(d2)
        delta = normal_cdf(d1)
    else:
        price = K * math.exp(-r * T) * normal_cdf(-d2) - S * normal_cdf(-d1)
        delta = normal_cdf(d1) - 1.0
    return {"price": round(price, 6), "delta": round(delta, 6)}
