// SPDX-License-Identifier: MIT
// Ours (basis-core), not Aave's or Lido's code: a small owner-only executor that runs an atomic bundle of
// steps (Lido staking / wrapping, Aave supply / borrow / repay / withdraw on behalf of its owner, and CALL
// steps: a contract call another venue plugin encoded, e.g. a Uniswap or Curve swap) in ONE transaction, optionally inside an Aave v3 `flashLoanSimple` whose callback performs the steps and repays
// the loan plus its premium. A revert anywhere (a step, the repayment, the health-factor post-condition)
// reverts the whole transaction: nothing changes.
//
// Funds: each step takes its input from this contract's balance; an ERC20 shortfall is pulled from the
// owner (who approves this contract once), ETH comes from msg.value. Borrowing on the owner's behalf uses
// Aave credit delegation (`VariableDebtToken.approveDelegation(this, amount)` by the owner); withdrawing
// pulls the owner's aTokens first. Whatever is left at the end is swept back to the owner. Only the owner
// can run it, and the flash-loan callback only accepts a loan this contract started itself.
pragma solidity ^0.8.20;

interface IERC20Like {
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
}

interface IWETHLike {
    function deposit() external payable;
    function withdraw(uint256 amount) external;
}

interface IStETHLike {
    function submit(address referral) external payable returns (uint256);
}

interface IWstETHLike {
    function wrap(uint256 stETHAmount) external returns (uint256);
    function unwrap(uint256 wstETHAmount) external returns (uint256);
}

interface IPoolLike {
    function flashLoanSimple(address receiverAddress, address asset, uint256 amount, bytes calldata params,
        uint16 referralCode) external;
    function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode) external;
    function borrow(address asset, uint256 amount, uint256 interestRateMode, uint16 referralCode,
        address onBehalfOf) external;
    function repay(address asset, uint256 amount, uint256 interestRateMode, address onBehalfOf)
        external returns (uint256);
    function withdraw(address asset, uint256 amount, address to) external returns (uint256);
    function getUserAccountData(address user) external view returns (uint256 totalCollateralBase,
        uint256 totalDebtBase, uint256 availableBorrowsBase, uint256 currentLiquidationThreshold, uint256 ltv,
        uint256 healthFactor);
}

contract LoopExecutor {
    uint8 public constant OP_UNWRAP_WETH = 1;      // WETH.withdraw(amount)
    uint8 public constant OP_WRAP_ETH = 2;         // WETH.deposit{value: amount}
    uint8 public constant OP_STAKE_ETH = 3;        // stETH.submit{value: amount}: ETH -> stETH
    uint8 public constant OP_STAKE_ETH_WSTETH = 4; // ETH sent to wstETH: ETH -> wstETH
    uint8 public constant OP_WRAP_STETH = 5;       // wstETH.wrap(amount)
    uint8 public constant OP_UNWRAP_WSTETH = 6;    // wstETH.unwrap(amount)
    uint8 public constant OP_SUPPLY = 7;           // Pool.supply(asset, amount, owner); amount max = all held
    uint8 public constant OP_BORROW = 8;           // Pool.borrow(asset, amount, variable, owner)
    uint8 public constant OP_REPAY = 9;            // Pool.repay(asset, amount, variable, owner); max = owner's debt (aux = debt token)
    uint8 public constant OP_WITHDRAW = 10;        // pull `amount` aTokens (aux) from the owner, Pool.withdraw all; max = all
    uint8 public constant OP_CALL = 11;            // hold `amount` `asset`, let `aux` spend it (0: none), aux.call(data)
    uint8 public constant OP_PULL = 12;            // hold `amount` `asset` (pull the shortfall from the owner once)

    struct Op {
        uint8 kind;
        address asset;
        uint256 amount;
        address aux;
        bytes data;
    }

    address public immutable owner;
    IPoolLike public immutable POOL;
    address public immutable WETH;
    address public immutable STETH;
    address public immutable WSTETH;
    bool private inFlight;

    event Step(uint256 indexed index, uint8 kind, address asset, uint256 amount);
    event Swept(address indexed token, uint256 amount);

    error NotOwner();
    error NotPool();
    error BadInitiator();
    error UnknownOp(uint8 kind);
    error NotEnoughEth(uint256 have, uint256 need);
    error HealthFactorTooLow(uint256 healthFactor, uint256 minHealthFactor);
    error TokenCallFailed(address token);

    constructor(address pool, address weth, address steth, address wsteth) {
        owner = msg.sender;
        POOL = IPoolLike(pool);
        WETH = weth;
        STETH = steth;
        WSTETH = wsteth;
    }

    /// @notice ETH from WETH.withdraw, Lido or the owner.
    receive() external payable {}

    /// @notice Run `ops` (inside a flash loan of `flashAmount` `flashAsset` when `flashAmount` > 0), check the
    ///         owner's health factor against `minHealthFactor` (wad; 0 = no check) and sweep `sweep` tokens
    ///         and ETH left here back to the owner.
    function run(Op[] calldata ops, address flashAsset, uint256 flashAmount, uint256 minHealthFactor,
        address[] calldata sweep) external payable {
        if (msg.sender != owner) revert NotOwner();
        if (flashAmount > 0) {
            inFlight = true;
            POOL.flashLoanSimple(address(this), flashAsset, flashAmount, abi.encode(ops), 0);
            inFlight = false;
        } else {
            _execute(ops);
        }
        if (minHealthFactor > 0) {
            (,,,,, uint256 hf) = POOL.getUserAccountData(owner);
            if (hf < minHealthFactor) revert HealthFactorTooLow(hf, minHealthFactor);
        }
        for (uint256 i = 0; i < sweep.length; ++i) {
            uint256 bal = IERC20Like(sweep[i]).balanceOf(address(this));
            if (bal > 0) {
                _call(sweep[i], abi.encodeWithSelector(0xa9059cbb, owner, bal)); // transfer
                emit Swept(sweep[i], bal);
            }
        }
        uint256 eth = address(this).balance;
        if (eth > 0) {
            (bool ok,) = owner.call{value: eth}("");
            if (!ok) revert TokenCallFailed(address(0));
            emit Swept(address(0), eth);
        }
    }

    /// @notice Aave's flash-loan callback: run the steps, then approve the Pool for the loan plus premium.
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator,
        bytes calldata params) external returns (bool) {
        if (msg.sender != address(POOL)) revert NotPool();
        if (initiator != address(this) || !inFlight) revert BadInitiator();
        Op[] memory ops = abi.decode(params, (Op[]));
        _execute(ops);
        uint256 owed = amount + premium;
        _need(asset, owed);
        _approve(asset, address(POOL), owed);
        return true;
    }

    function _execute(Op[] memory ops) internal {
        for (uint256 i = 0; i < ops.length; ++i) {
            Op memory op = ops[i];
            uint256 amt = op.amount;
            uint8 k = op.kind;
            if (k == OP_UNWRAP_WETH) {
                _need(WETH, amt);
                IWETHLike(WETH).withdraw(amt);
            } else if (k == OP_WRAP_ETH) {
                _needEth(amt);
                IWETHLike(WETH).deposit{value: amt}();
            } else if (k == OP_STAKE_ETH) {
                _needEth(amt);
                IStETHLike(STETH).submit{value: amt}(address(0));
            } else if (k == OP_STAKE_ETH_WSTETH) {
                _needEth(amt);
                (bool ok,) = WSTETH.call{value: amt}("");
                if (!ok) revert TokenCallFailed(WSTETH);
            } else if (k == OP_WRAP_STETH) {
                _need(STETH, amt);
                _approve(STETH, WSTETH, amt);
                IWstETHLike(WSTETH).wrap(amt);
            } else if (k == OP_UNWRAP_WSTETH) {
                _need(WSTETH, amt);
                IWstETHLike(WSTETH).unwrap(amt);
            } else if (k == OP_SUPPLY) {
                if (amt == type(uint256).max) {
                    amt = IERC20Like(op.asset).balanceOf(address(this));
                } else {
                    _need(op.asset, amt);
                }
                _approve(op.asset, address(POOL), amt);
                POOL.supply(op.asset, amt, owner, 0);
            } else if (k == OP_BORROW) {
                POOL.borrow(op.asset, amt, 2, 0, owner);
            } else if (k == OP_REPAY) {
                if (amt == type(uint256).max) amt = IERC20Like(op.aux).balanceOf(owner);
                _need(op.asset, amt);
                _approve(op.asset, address(POOL), amt);
                POOL.repay(op.asset, amt, 2, owner);
            } else if (k == OP_WITHDRAW) {
                if (amt == type(uint256).max) amt = IERC20Like(op.aux).balanceOf(owner);
                _need(op.aux, amt);
                POOL.withdraw(op.asset, type(uint256).max, address(this));
            } else if (k == OP_CALL) {
                if (amt > 0) {
                    _need(op.asset, amt);
                    _allow(op.asset, op.aux, amt);
                }
                _callAny(op.aux, op.data);
            } else if (k == OP_PULL) {
                _need(op.asset, amt);
            } else {
                revert UnknownOp(k);
            }
            emit Step(i, k, op.asset, amt);
        }
    }

    /// @dev Make sure this contract holds `amount` of `token`, pulling the shortfall from the owner.
    function _need(address token, uint256 amount) internal {
        uint256 bal = IERC20Like(token).balanceOf(address(this));
        if (bal < amount) {
            _call(token, abi.encodeWithSelector(0x23b872dd, owner, address(this), amount - bal)); // transferFrom
        }
    }

    function _needEth(uint256 amount) internal view {
        if (address(this).balance < amount) revert NotEnoughEth(address(this).balance, amount);
    }

    /// @dev approve(0) then approve(amount): works for tokens that refuse changing a non-zero allowance (USDT).
    function _approve(address token, address spender, uint256 amount) internal {
        _call(token, abi.encodeWithSelector(0x095ea7b3, spender, 0));
        _call(token, abi.encodeWithSelector(0x095ea7b3, spender, amount));
    }

    /// @dev Let `spender` (a router or pool a CALL step names) spend `amount` of `token`: an unlimited approval,
    ///      given once per token and spender (this contract holds nothing between transactions: it sweeps).
    function _allow(address token, address spender, uint256 amount) internal {
        if (IERC20Like(token).allowance(address(this), spender) < amount) {
            _approve(token, spender, type(uint256).max);
        }
    }

    /// @dev A plugin-encoded call: bubbles the callee's revert reason, ignores what it returns.
    function _callAny(address target, bytes memory data) internal {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            if (ret.length > 0) {
                assembly {
                    revert(add(ret, 32), mload(ret))
                }
            }
            revert TokenCallFailed(target);
        }
    }

    /// @dev A token call that accepts no return data (USDT) or `true`; bubbles the token's revert reason.
    function _call(address token, bytes memory data) internal {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok) {
            if (ret.length > 0) {
                assembly {
                    revert(add(ret, 32), mload(ret))
                }
            }
            revert TokenCallFailed(token);
        }
        if (ret.length > 0 && !abi.decode(ret, (bool))) revert TokenCallFailed(token);
    }
}
