// SPDX-License-Identifier: MIT
// Ours (basis-core), not Morpho's code: a small owner-only executor that runs an atomic bundle of contract calls
// in ONE transaction, optionally inside a Morpho Blue flash loan (`IMorpho.flashLoan`, fee-free) whose callback
// (`IMorphoFlashLoanCallback.onMorphoFlashLoan`) performs the calls, after which Morpho takes the loan back
// (`transferFrom` of this contract, approved here). A revert anywhere (a call, the repayment) reverts the whole
// transaction: nothing changes.
//
// Each op is a CALL: hold `amount` of `asset` (pulling the shortfall from the owner, who approves this contract
// once), let the call's target spend it, call the target with the encoded data (a Morpho supply / collateral /
// repay on behalf of the owner, a Morpho borrow / withdrawal on behalf of the owner to this contract -- the owner
// authorizes this contract once with `Morpho.setAuthorization` -- or another venue's step, e.g. a Uniswap swap
// paying this contract); or a PULL: hold `amount` of `asset`. Whatever is left at the end is swept back to the
// owner. Only the owner can run it, and the flash-loan callback only accepts the loan this contract started.
pragma solidity ^0.8.19;

interface IERC20Like {
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
}

interface IMorphoFlashLoanLike {
    function flashLoan(address token, uint256 assets, bytes calldata data) external;
}

contract MorphoBundleExecutor {
    uint8 public constant OP_CALL = 1; // hold `amount` `asset`, let `aux` spend it (0: none), aux.call(data)
    uint8 public constant OP_PULL = 2; // hold `amount` `asset` (pull the shortfall from the owner once)

    struct Op {
        uint8 kind;
        address asset;
        uint256 amount;
        address aux;
        bytes data;
    }

    address public immutable owner;
    address public immutable MORPHO;
    address private flashToken; // the token of the loan in flight (zero outside `run`)

    event Step(uint256 indexed index, uint8 kind, address asset, uint256 amount);
    event Swept(address indexed token, uint256 amount);

    error NotOwner();
    error NotMorpho();
    error NoLoanInFlight();
    error UnknownOp(uint8 kind);
    error TokenCallFailed(address token);

    constructor(address morpho) {
        owner = msg.sender;
        MORPHO = morpho;
    }

    /// @notice ETH a call may pay out (swept back to the owner).
    receive() external payable {}

    /// @notice Run `ops` (inside a Morpho flash loan of `flashAmount` `flashAsset` when `flashAmount` > 0) and
    ///         sweep `sweep` tokens and ETH left here back to the owner.
    function run(Op[] calldata ops, address flashAsset, uint256 flashAmount, address[] calldata sweep)
        external payable {
        if (msg.sender != owner) revert NotOwner();
        if (flashAmount > 0) {
            flashToken = flashAsset;
            IMorphoFlashLoanLike(MORPHO).flashLoan(flashAsset, flashAmount, abi.encode(ops));
            flashToken = address(0);
        } else {
            _execute(ops);
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

    /// @notice Morpho's flash-loan callback: run the ops, then let Morpho take the `assets` back.
    function onMorphoFlashLoan(uint256 assets, bytes calldata data) external {
        if (msg.sender != MORPHO) revert NotMorpho();
        address token = flashToken;
        if (token == address(0)) revert NoLoanInFlight();
        _execute(abi.decode(data, (Op[])));
        _need(token, assets);
        _approve(token, MORPHO, assets);
    }

    function _execute(Op[] memory ops) internal {
        for (uint256 i = 0; i < ops.length; ++i) {
            Op memory op = ops[i];
            if (op.kind == OP_CALL) {
                if (op.amount > 0) {
                    _need(op.asset, op.amount);
                    _allow(op.asset, op.aux, op.amount);
                }
                _callAny(op.aux, op.data);
            } else if (op.kind == OP_PULL) {
                _need(op.asset, op.amount);
            } else {
                revert UnknownOp(op.kind);
            }
            emit Step(i, op.kind, op.asset, op.amount);
        }
    }

    /// @dev Make sure this contract holds `amount` of `token`, pulling the shortfall from the owner.
    function _need(address token, uint256 amount) internal {
        uint256 bal = IERC20Like(token).balanceOf(address(this));
        if (bal < amount) {
            _call(token, abi.encodeWithSelector(0x23b872dd, owner, address(this), amount - bal)); // transferFrom
        }
    }

    /// @dev approve(0) then approve(amount): works for tokens that refuse changing a non-zero allowance (USDT).
    function _approve(address token, address spender, uint256 amount) internal {
        _call(token, abi.encodeWithSelector(0x095ea7b3, spender, 0));
        _call(token, abi.encodeWithSelector(0x095ea7b3, spender, amount));
    }

    /// @dev Let `spender` spend `amount` of `token`: an unlimited approval, given once per token and spender
    ///      (this contract holds nothing between transactions: it sweeps).
    function _allow(address token, address spender, uint256 amount) internal {
        if (IERC20Like(token).allowance(address(this), spender) < amount) {
            _approve(token, spender, type(uint256).max);
        }
    }

    /// @dev A call of an op: bubbles the callee's revert reason, ignores what it returns.
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
