# pragma version 0.4.3
# Not Curve's code: written for basis-core's tests from the StableSwap whitepaper; exposes Curve's ABI.
"""
@title StableSwap (test pool)
@notice Not Curve's code: written for basis-core's tests from the StableSwap whitepaper;
        exposes Curve's ABI (int128 coin indices, get_dy / exchange / add_liquidity /
        remove_liquidity / remove_liquidity_one_coin / calc_token_amount / get_virtual_price,
        coins(i), balances(i), A(), A_precise(), fee(), admin_fee()).
@dev    Design follows the published plain-pool layout: balances kept in native units,
        normalised by rates[i] = PRECISION * 10**(18 - decimals[i]); A stored times A_PRECISION;
        fees on a 1e10 denominator; the pool is its own LP token (18 decimals).
        N_COINS is substituted at compile time (2 or 3) by basis_venue_curve.testing.deploy.
        No A ramping, no kill switch, no admin transfer: test support only.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

N_COINS: constant(uint256) = 2  # @N_COINS@
FEE_DENOMINATOR: constant(uint256) = 10 ** 10
PRECISION: constant(uint256) = 10 ** 18
A_PRECISION: constant(uint256) = 100
MAX_ITER: constant(uint256) = 255

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event TokenExchange:
    buyer: indexed(address)
    sold_id: int128
    tokens_sold: uint256
    bought_id: int128
    tokens_bought: uint256

event AddLiquidity:
    provider: indexed(address)
    token_amounts: uint256[N_COINS]
    fees: uint256[N_COINS]
    invariant: uint256
    token_supply: uint256

event RemoveLiquidity:
    provider: indexed(address)
    token_amounts: uint256[N_COINS]
    fees: uint256[N_COINS]
    token_supply: uint256

event RemoveLiquidityOne:
    provider: indexed(address)
    token_amount: uint256
    coin_amount: uint256
    token_supply: uint256

# --- pool state (storage order is relied on by tests that write state with anvil_setStorageAt)
balances: public(uint256[N_COINS])
totalSupply: public(uint256)
initial_A: uint256  # A * A_PRECISION
fee: public(uint256)
admin_fee: public(uint256)
coins: public(address[N_COINS])
rates: uint256[N_COINS]
owner: public(address)

# --- LP token
name: public(String[64])
symbol: public(String[32])
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__(
    _coins: address[N_COINS],
    _A: uint256,
    _fee: uint256,
    _admin_fee: uint256,
    _name: String[64],
    _symbol: String[32],
):
    """
    @param _A amplification coefficient as returned by A() (stored times A_PRECISION)
    @param _fee swap fee on a 1e10 denominator (4e6 = 0.04 %)
    @param _admin_fee share of the fee kept by the admin, 1e10 denominator
    """
    assert _A > 0 and _A * A_PRECISION <= 10 ** 8, "bad A"
    assert _fee <= FEE_DENOMINATOR // 2, "bad fee"
    assert _admin_fee <= FEE_DENOMINATOR, "bad admin fee"
    for i: uint256 in range(N_COINS):
        assert _coins[i] != empty(address)
        dec: uint256 = convert(staticcall IERC20Detailed(_coins[i]).decimals(), uint256)
        assert dec <= 18, "decimals"
        self.rates[i] = PRECISION * 10 ** (18 - dec)
    self.coins = _coins
    self.initial_A = _A * A_PRECISION
    self.fee = _fee
    self.admin_fee = _admin_fee
    self.owner = msg.sender
    self.name = _name
    self.symbol = _symbol


# ------------------------------------------------------------------ LP token (ERC20)

@view
@external
def decimals() -> uint8:
    return 18


@external
def transfer(_to: address, _value: uint256) -> bool:
    self.balanceOf[msg.sender] -= _value
    self.balanceOf[_to] += _value
    log Transfer(sender=msg.sender, receiver=_to, value=_value)
    return True


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    allowed: uint256 = self.allowance[_from][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _value
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value
    log Transfer(sender=_from, receiver=_to, value=_value)
    return True


@external
def approve(_spender: address, _value: uint256) -> bool:
    self.allowance[msg.sender][_spender] = _value
    log Approval(owner=msg.sender, spender=_spender, value=_value)
    return True


@view
@external
def lp_token() -> address:
    return self


# ------------------------------------------------------------------ views

@view
@external
def A() -> uint256:
    return self.initial_A // A_PRECISION


@view
@external
def A_precise() -> uint256:
    return self.initial_A


@view
@external
def admin_balances(i: uint256) -> uint256:
    return staticcall IERC20(self.coins[i]).balanceOf(self) - self.balances[i]


@view
@internal
def _xp_mem(_rates: uint256[N_COINS], _balances: uint256[N_COINS]) -> uint256[N_COINS]:
    result: uint256[N_COINS] = empty(uint256[N_COINS])
    for i: uint256 in range(N_COINS):
        result[i] = _rates[i] * _balances[i] // PRECISION
    return result


@pure
@internal
def _get_D(_xp: uint256[N_COINS], _amp: uint256) -> uint256:
    """
    @notice D invariant by Newton's method:
            A*n**n*sum(x) + D = A*D*n**n + D**(n+1) / (n**n * prod(x))
    """
    S: uint256 = 0
    for x: uint256 in _xp:
        S += x
    if S == 0:
        return 0

    D: uint256 = S
    Ann: uint256 = _amp * N_COINS
    for _i: uint256 in range(MAX_ITER):
        D_P: uint256 = D
        for x: uint256 in _xp:
            D_P = D_P * D // (x * N_COINS)
        Dprev: uint256 = D
        D = (Ann * S // A_PRECISION + D_P * N_COINS) * D // (
            (Ann - A_PRECISION) * D // A_PRECISION + (N_COINS + 1) * D_P
        )
        if D > Dprev:
            if D - Dprev <= 1:
                return D
        else:
            if Dprev - D <= 1:
                return D
    raise "D did not converge"


@view
@internal
def _get_D_mem(_rates: uint256[N_COINS], _balances: uint256[N_COINS], _amp: uint256) -> uint256:
    return self._get_D(self._xp_mem(_rates, _balances), _amp)


@pure
@internal
def _get_y(i: int128, j: int128, x: uint256, _xp: uint256[N_COINS], _amp: uint256) -> uint256:
    """
    @notice New balance of coin j (normalised) when coin i is set to x, keeping D constant.
    """
    assert i != j, "same coin"
    assert j >= 0 and j < convert(N_COINS, int128), "j out of range"
    assert i >= 0 and i < convert(N_COINS, int128), "i out of range"

    D: uint256 = self._get_D(_xp, _amp)
    Ann: uint256 = _amp * N_COINS
    c: uint256 = D
    S_: uint256 = 0
    _x: uint256 = 0
    for k: uint256 in range(N_COINS):
        _i: int128 = convert(k, int128)
        if _i == i:
            _x = x
        elif _i != j:
            _x = _xp[k]
        else:
            continue
        S_ += _x
        c = c * D // (_x * N_COINS)
    c = c * D * A_PRECISION // (Ann * N_COINS)
    b: uint256 = S_ + D * A_PRECISION // Ann
    y: uint256 = D
    for _i: uint256 in range(MAX_ITER):
        y_prev: uint256 = y
        y = (y * y + c) // (2 * y + b - D)
        if y > y_prev:
            if y - y_prev <= 1:
                return y
        else:
            if y_prev - y <= 1:
                return y
    raise "y did not converge"


@pure
@internal
def _get_y_D(_amp: uint256, i: int128, _xp: uint256[N_COINS], D: uint256) -> uint256:
    """
    @notice Balance of coin i (normalised) that gives invariant D with the other balances kept.
    """
    assert i >= 0 and i < convert(N_COINS, int128), "i out of range"
    Ann: uint256 = _amp * N_COINS
    c: uint256 = D
    S_: uint256 = 0
    _x: uint256 = 0
    for k: uint256 in range(N_COINS):
        if convert(k, int128) != i:
            _x = _xp[k]
        else:
            continue
        S_ += _x
        c = c * D // (_x * N_COINS)
    c = c * D * A_PRECISION // (Ann * N_COINS)
    b: uint256 = S_ + D * A_PRECISION // Ann
    y: uint256 = D
    for _i: uint256 in range(MAX_ITER):
        y_prev: uint256 = y
        y = (y * y + c) // (2 * y + b - D)
        if y > y_prev:
            if y - y_prev <= 1:
                return y
        else:
            if y_prev - y <= 1:
                return y
    raise "y did not converge"


@view
@external
def get_virtual_price() -> uint256:
    """
    @notice LP token value in D units, 1e18 precision
    """
    D: uint256 = self._get_D_mem(self.rates, self.balances, self.initial_A)
    return D * PRECISION // self.totalSupply


@view
@external
def calc_token_amount(_amounts: uint256[N_COINS], _is_deposit: bool) -> uint256:
    """
    @notice LP amount minted (deposit) or burned (withdrawal) for _amounts, fees not included.
    """
    amp: uint256 = self.initial_A
    rates: uint256[N_COINS] = self.rates
    balances: uint256[N_COINS] = self.balances
    D0: uint256 = self._get_D_mem(rates, balances, amp)
    for i: uint256 in range(N_COINS):
        if _is_deposit:
            balances[i] += _amounts[i]
        else:
            balances[i] -= _amounts[i]
    D1: uint256 = self._get_D_mem(rates, balances, amp)
    diff: uint256 = 0
    if _is_deposit:
        diff = D1 - D0
    else:
        diff = D0 - D1
    return diff * self.totalSupply // D0


@view
@external
def get_dy(i: int128, j: int128, dx: uint256) -> uint256:
    """
    @notice Amount of coin j received for dx of coin i, after the fee (native units).
    """
    rates: uint256[N_COINS] = self.rates
    xp: uint256[N_COINS] = self._xp_mem(rates, self.balances)
    x: uint256 = xp[i] + dx * rates[i] // PRECISION
    y: uint256 = self._get_y(i, j, x, xp, self.initial_A)
    dy: uint256 = xp[j] - y - 1
    _fee: uint256 = self.fee * dy // FEE_DENOMINATOR
    return (dy - _fee) * PRECISION // rates[j]


@view
@internal
def _calc_withdraw_one_coin(_burn_amount: uint256, i: int128) -> uint256[2]:
    amp: uint256 = self.initial_A
    rates: uint256[N_COINS] = self.rates
    xp: uint256[N_COINS] = self._xp_mem(rates, self.balances)
    D0: uint256 = self._get_D(xp, amp)
    total_supply: uint256 = self.totalSupply
    D1: uint256 = D0 - _burn_amount * D0 // total_supply
    new_y: uint256 = self._get_y_D(amp, i, xp, D1)

    base_fee: uint256 = self.fee * N_COINS // (4 * (N_COINS - 1))
    xp_reduced: uint256[N_COINS] = empty(uint256[N_COINS])
    for j: uint256 in range(N_COINS):
        dx_expected: uint256 = 0
        xp_j: uint256 = xp[j]
        if convert(j, int128) == i:
            dx_expected = xp_j * D1 // D0 - new_y
        else:
            dx_expected = xp_j - xp_j * D1 // D0
        xp_reduced[j] = xp_j - base_fee * dx_expected // FEE_DENOMINATOR

    ii: uint256 = convert(i, uint256)
    dy: uint256 = xp_reduced[ii] - self._get_y_D(amp, i, xp_reduced, D1)
    dy_0: uint256 = (xp[ii] - new_y) * PRECISION // rates[ii]
    dy = (dy - 1) * PRECISION // rates[ii]
    return [dy, dy_0 - dy]


@view
@external
def calc_withdraw_one_coin(_burn_amount: uint256, i: int128) -> uint256:
    """
    @notice Amount of coin i received for burning _burn_amount LP, after fees (native units).
    """
    return self._calc_withdraw_one_coin(_burn_amount, i)[0]


# ------------------------------------------------------------------ state-changing

@external
@nonreentrant
def exchange(i: int128, j: int128, _dx: uint256, _min_dy: uint256) -> uint256:
    """
    @notice Swap _dx of coin i for at least _min_dy of coin j; returns the amount of j sent.
    """
    rates: uint256[N_COINS] = self.rates
    old_balances: uint256[N_COINS] = self.balances
    xp: uint256[N_COINS] = self._xp_mem(rates, old_balances)

    ii: uint256 = convert(i, uint256)
    jj: uint256 = convert(j, uint256)
    x: uint256 = xp[ii] + _dx * rates[ii] // PRECISION
    y: uint256 = self._get_y(i, j, x, xp, self.initial_A)

    dy: uint256 = xp[jj] - y - 1
    dy_fee: uint256 = dy * self.fee // FEE_DENOMINATOR
    dy = (dy - dy_fee) * PRECISION // rates[jj]
    assert dy >= _min_dy, "Exchange resulted in fewer coins than expected"

    dy_admin_fee: uint256 = dy_fee * self.admin_fee // FEE_DENOMINATOR
    dy_admin_fee = dy_admin_fee * PRECISION // rates[jj]

    self.balances[ii] = old_balances[ii] + _dx
    self.balances[jj] = old_balances[jj] - dy - dy_admin_fee

    assert extcall IERC20(self.coins[ii]).transferFrom(msg.sender, self, _dx, default_return_value=True)
    assert extcall IERC20(self.coins[jj]).transfer(msg.sender, dy, default_return_value=True)

    log TokenExchange(buyer=msg.sender, sold_id=i, tokens_sold=_dx, bought_id=j, tokens_bought=dy)
    return dy


@external
@nonreentrant
def add_liquidity(_amounts: uint256[N_COINS], _min_mint_amount: uint256) -> uint256:
    """
    @notice Deposit coins; mints LP to the sender net of the imbalance fee. Returns LP minted.
    """
    amp: uint256 = self.initial_A
    rates: uint256[N_COINS] = self.rates
    old_balances: uint256[N_COINS] = self.balances
    D0: uint256 = self._get_D_mem(rates, old_balances, amp)

    total_supply: uint256 = self.totalSupply
    new_balances: uint256[N_COINS] = old_balances
    for i: uint256 in range(N_COINS):
        if total_supply == 0:
            assert _amounts[i] > 0, "initial deposit requires all coins"
        new_balances[i] += _amounts[i]

    D1: uint256 = self._get_D_mem(rates, new_balances, amp)
    assert D1 > D0, "D did not grow"

    fees: uint256[N_COINS] = empty(uint256[N_COINS])
    mint_amount: uint256 = 0
    if total_supply > 0:
        base_fee: uint256 = self.fee * N_COINS // (4 * (N_COINS - 1))
        for i: uint256 in range(N_COINS):
            ideal_balance: uint256 = D1 * old_balances[i] // D0
            difference: uint256 = 0
            new_balance: uint256 = new_balances[i]
            if ideal_balance > new_balance:
                difference = ideal_balance - new_balance
            else:
                difference = new_balance - ideal_balance
            fees[i] = base_fee * difference // FEE_DENOMINATOR
            self.balances[i] = new_balance - (fees[i] * self.admin_fee // FEE_DENOMINATOR)
            new_balances[i] -= fees[i]
        D2: uint256 = self._get_D_mem(rates, new_balances, amp)
        mint_amount = total_supply * (D2 - D0) // D0
    else:
        self.balances = new_balances
        mint_amount = D1

    assert mint_amount >= _min_mint_amount, "Slippage screwed you"

    for i: uint256 in range(N_COINS):
        if _amounts[i] > 0:
            assert extcall IERC20(self.coins[i]).transferFrom(
                msg.sender, self, _amounts[i], default_return_value=True
            )

    self.totalSupply = total_supply + mint_amount
    self.balanceOf[msg.sender] += mint_amount
    log Transfer(sender=empty(address), receiver=msg.sender, value=mint_amount)
    log AddLiquidity(
        provider=msg.sender, token_amounts=_amounts, fees=fees, invariant=D1,
        token_supply=total_supply + mint_amount
    )
    return mint_amount


@external
@nonreentrant
def remove_liquidity(_burn_amount: uint256, _min_amounts: uint256[N_COINS]) -> uint256[N_COINS]:
    """
    @notice Burn LP for a pro-rata share of every coin (no fee). Returns the amounts sent.
    """
    total_supply: uint256 = self.totalSupply
    amounts: uint256[N_COINS] = empty(uint256[N_COINS])
    for i: uint256 in range(N_COINS):
        old_balance: uint256 = self.balances[i]
        value: uint256 = old_balance * _burn_amount // total_supply
        assert value >= _min_amounts[i], "Withdrawal resulted in fewer coins than expected"
        self.balances[i] = old_balance - value
        amounts[i] = value
        assert extcall IERC20(self.coins[i]).transfer(msg.sender, value, default_return_value=True)

    self.balanceOf[msg.sender] -= _burn_amount
    self.totalSupply = total_supply - _burn_amount
    log Transfer(sender=msg.sender, receiver=empty(address), value=_burn_amount)
    log RemoveLiquidity(
        provider=msg.sender, token_amounts=amounts, fees=empty(uint256[N_COINS]),
        token_supply=total_supply - _burn_amount
    )
    return amounts


@external
@nonreentrant
def remove_liquidity_one_coin(_burn_amount: uint256, i: int128, _min_received: uint256) -> uint256:
    """
    @notice Burn LP for coin i only (imbalance fee applies). Returns the amount sent.
    """
    dy: uint256[2] = self._calc_withdraw_one_coin(_burn_amount, i)
    assert dy[0] >= _min_received, "Not enough coins removed"

    ii: uint256 = convert(i, uint256)
    self.balances[ii] -= (dy[0] + dy[1] * self.admin_fee // FEE_DENOMINATOR)
    total_supply: uint256 = self.totalSupply - _burn_amount
    self.totalSupply = total_supply
    self.balanceOf[msg.sender] -= _burn_amount
    log Transfer(sender=msg.sender, receiver=empty(address), value=_burn_amount)

    assert extcall IERC20(self.coins[ii]).transfer(msg.sender, dy[0], default_return_value=True)

    log RemoveLiquidityOne(
        provider=msg.sender, token_amount=_burn_amount, coin_amount=dy[0], token_supply=total_supply
    )
    return dy[0]
