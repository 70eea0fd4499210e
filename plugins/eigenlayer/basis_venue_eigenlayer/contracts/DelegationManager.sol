// SPDX-License-Identifier: MIT
// Not EigenLayer's code: ours, for basis-core tests. A delegation manager speaking the ABI of EigenLayer's
// DelegationManager (src/contracts/core/DelegationManager.sol and interfaces/IDelegationManager.sol of
// Layr-Labs/eigenlayer-contracts, slashing release): registerAsOperator(approver, allocationDelay, uri),
// delegateTo(operator, (signature, expiry), salt), queueWithdrawals([(strategies, depositShares, withdrawer)]),
// completeQueuedWithdrawal(withdrawal, tokens, receiveAsTokens), minWithdrawalDelayBlocks(), delegatedTo,
// isDelegated, isOperator, getOperatorShares, cumulativeWithdrawalsQueued, getQueuedWithdrawal(s),
// getQueuedWithdrawalRoots, calculateWithdrawalRoot = keccak256(abi.encode(withdrawal)), getDepositedShares;
// the Withdrawal struct, events (StakerDelegated, OperatorSharesIncreased / Decreased, SlashingWithdrawalQueued /
// Completed) and errors as EigenLayer's. A withdrawal completes only when block.number > startBlock +
// minWithdrawalDelayBlocks (WithdrawalDelayNotElapsed). Ours: no slashing (every scaling factor is 1, so scaled
// shares = deposit shares = withdrawable shares), no delegation-approver signatures (an operator registered with
// an approver cannot be delegated to here), no undelegate / redelegate, no EigenPods, no proxy or pausing.
pragma solidity ^0.8.20;

interface IStrategyManagerDM {
    function removeDepositShares(address staker, address strategy, uint256 depositSharesToRemove)
        external returns (uint256);
    function addShares(address staker, address strategy, uint256 shares) external returns (uint256, uint256);
    function withdrawSharesAsTokens(address staker, address strategy, address token, uint256 shares) external;
    function getDeposits(address staker) external view returns (address[] memory, uint256[] memory);
}

contract DelegationManager {
    struct SignatureWithExpiry {
        bytes signature;
        uint256 expiry;
    }

    struct Withdrawal {
        address staker;
        address delegatedTo;
        address withdrawer;
        uint256 nonce;
        uint32 startBlock;
        address[] strategies;
        uint256[] scaledShares;
    }

    struct QueuedWithdrawalParams {
        address[] strategies;
        uint256[] depositShares;
        address __deprecated_withdrawer;
    }

    IStrategyManagerDM public immutable strategyManager;
    uint32 internal immutable MIN_WITHDRAWAL_DELAY_BLOCKS;

    mapping(address => address) public delegatedTo;
    mapping(address => address) internal _delegationApprover;
    mapping(address => bool) internal _registered;
    mapping(address => mapping(address => uint256)) public operatorShares;
    mapping(address => uint256) public cumulativeWithdrawalsQueued;
    mapping(bytes32 => bool) public pendingWithdrawals;
    mapping(bytes32 => Withdrawal) internal _queuedWithdrawals;
    mapping(address => bytes32[]) internal _stakerQueuedWithdrawalRoots;

    event OperatorRegistered(address indexed operator, address delegationApprover);
    event OperatorMetadataURIUpdated(address indexed operator, string metadataURI);
    event OperatorSharesIncreased(address indexed operator, address staker, address strategy, uint256 shares);
    event OperatorSharesDecreased(address indexed operator, address staker, address strategy, uint256 shares);
    event StakerDelegated(address indexed staker, address indexed operator);
    event SlashingWithdrawalQueued(bytes32 withdrawalRoot, Withdrawal withdrawal, uint256[] sharesToWithdraw);
    event SlashingWithdrawalCompleted(bytes32 withdrawalRoot);

    error ActivelyDelegated();
    error OperatorNotRegistered();
    error WithdrawalNotQueued();
    error WithdrawalDelayNotElapsed();
    error WithdrawerNotCaller();
    error InputArrayLengthMismatch();
    error InputArrayLengthZero();
    error OnlyStrategyManagerOrEigenPodManager();
    error DelegationApproverNotSupported();

    constructor(address _strategyManager, uint32 _minWithdrawalDelayBlocks) {
        strategyManager = IStrategyManagerDM(_strategyManager);
        MIN_WITHDRAWAL_DELAY_BLOCKS = _minWithdrawalDelayBlocks;
    }

    // ------------------------------------------------------------------------------------- operators, delegation
    function registerAsOperator(address initDelegationApprover, uint32 allocationDelay, string calldata metadataURI)
        external
    {
        allocationDelay;
        if (delegatedTo[msg.sender] != address(0)) revert ActivelyDelegated();
        _registered[msg.sender] = true;
        _delegationApprover[msg.sender] = initDelegationApprover;
        emit OperatorRegistered(msg.sender, initDelegationApprover);
        _delegate(msg.sender, msg.sender);
        emit OperatorMetadataURIUpdated(msg.sender, metadataURI);
    }

    function delegateTo(address operator, SignatureWithExpiry memory approverSignatureAndExpiry, bytes32 approverSalt)
        external
    {
        approverSignatureAndExpiry;
        approverSalt;
        if (delegatedTo[msg.sender] != address(0)) revert ActivelyDelegated();
        if (!_registered[operator]) revert OperatorNotRegistered();
        if (_delegationApprover[operator] != address(0)) revert DelegationApproverNotSupported();
        _delegate(msg.sender, operator);
    }

    function increaseDelegatedShares(address staker, address strategy, uint256 prevDepositShares, uint256 addedShares)
        external
    {
        prevDepositShares;
        if (msg.sender != address(strategyManager)) revert OnlyStrategyManagerOrEigenPodManager();
        address operator = delegatedTo[staker];
        if (operator != address(0)) {
            operatorShares[operator][strategy] += addedShares;
            emit OperatorSharesIncreased(operator, staker, strategy, addedShares);
        }
    }

    // ------------------------------------------------------------------------------------- withdrawals
    function queueWithdrawals(QueuedWithdrawalParams[] calldata params) external returns (bytes32[] memory) {
        bytes32[] memory withdrawalRoots = new bytes32[](params.length);
        address operator = delegatedTo[msg.sender];
        for (uint256 i = 0; i < params.length; i++) {
            if (params[i].strategies.length != params[i].depositShares.length) revert InputArrayLengthMismatch();
            withdrawalRoots[i] = _removeSharesAndQueueWithdrawal(msg.sender, operator, params[i].strategies,
                                                                  params[i].depositShares);
        }
        return withdrawalRoots;
    }

    function completeQueuedWithdrawal(Withdrawal calldata withdrawal, address[] calldata tokens, bool receiveAsTokens)
        external
    {
        if (tokens.length != withdrawal.strategies.length) revert InputArrayLengthMismatch();
        if (msg.sender != withdrawal.withdrawer) revert WithdrawerNotCaller();
        bytes32 withdrawalRoot = calculateWithdrawalRoot(withdrawal);
        if (!pendingWithdrawals[withdrawalRoot]) revert WithdrawalNotQueued();
        uint32 slashableUntil = withdrawal.startBlock + MIN_WITHDRAWAL_DELAY_BLOCKS;
        if (uint32(block.number) <= slashableUntil) revert WithdrawalDelayNotElapsed();

        _removeRoot(withdrawal.staker, withdrawalRoot);
        delete _queuedWithdrawals[withdrawalRoot];
        delete pendingWithdrawals[withdrawalRoot];
        emit SlashingWithdrawalCompleted(withdrawalRoot);

        address newOperator = delegatedTo[withdrawal.staker];
        for (uint256 i = 0; i < withdrawal.strategies.length; i++) {
            uint256 sharesToWithdraw = withdrawal.scaledShares[i];
            if (sharesToWithdraw == 0) continue;
            if (receiveAsTokens) {
                strategyManager.withdrawSharesAsTokens(withdrawal.staker, withdrawal.strategies[i], tokens[i],
                                                       sharesToWithdraw);
            } else {
                (, uint256 addedShares) = strategyManager.addShares(withdrawal.staker, withdrawal.strategies[i],
                                                                     sharesToWithdraw);
                if (newOperator != address(0)) {
                    operatorShares[newOperator][withdrawal.strategies[i]] += addedShares;
                    emit OperatorSharesIncreased(newOperator, withdrawal.staker, withdrawal.strategies[i], addedShares);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------- views
    function minWithdrawalDelayBlocks() external view returns (uint32) {
        return MIN_WITHDRAWAL_DELAY_BLOCKS;
    }

    function isDelegated(address staker) public view returns (bool) {
        return delegatedTo[staker] != address(0);
    }

    function isOperator(address operator) external view returns (bool) {
        return _registered[operator];
    }

    function delegationApprover(address operator) external view returns (address) {
        return _delegationApprover[operator];
    }

    function getOperatorShares(address operator, address[] memory strategies)
        external view returns (uint256[] memory)
    {
        uint256[] memory out = new uint256[](strategies.length);
        for (uint256 i = 0; i < strategies.length; i++) out[i] = operatorShares[operator][strategies[i]];
        return out;
    }

    function getDepositedShares(address staker) external view returns (address[] memory, uint256[] memory) {
        return strategyManager.getDeposits(staker);
    }

    function queuedWithdrawals(bytes32 withdrawalRoot) external view returns (Withdrawal memory) {
        return _queuedWithdrawals[withdrawalRoot];
    }

    function getQueuedWithdrawal(bytes32 withdrawalRoot)
        external view returns (Withdrawal memory withdrawal, uint256[] memory shares)
    {
        withdrawal = _queuedWithdrawals[withdrawalRoot];
        shares = withdrawal.scaledShares;
    }

    function getQueuedWithdrawals(address staker)
        external view returns (Withdrawal[] memory withdrawals, uint256[][] memory shares)
    {
        bytes32[] memory roots = _stakerQueuedWithdrawalRoots[staker];
        withdrawals = new Withdrawal[](roots.length);
        shares = new uint256[][](roots.length);
        for (uint256 i = 0; i < roots.length; i++) {
            withdrawals[i] = _queuedWithdrawals[roots[i]];
            shares[i] = withdrawals[i].scaledShares;
        }
    }

    function getQueuedWithdrawalRoots(address staker) external view returns (bytes32[] memory) {
        return _stakerQueuedWithdrawalRoots[staker];
    }

    function calculateWithdrawalRoot(Withdrawal memory withdrawal) public pure returns (bytes32) {
        return keccak256(abi.encode(withdrawal));
    }

    // ------------------------------------------------------------------------------------- internal
    function _delegate(address staker, address operator) internal {
        delegatedTo[staker] = operator;
        emit StakerDelegated(staker, operator);
        (address[] memory strategies, uint256[] memory shares) = strategyManager.getDeposits(staker);
        for (uint256 i = 0; i < strategies.length; i++) {
            operatorShares[operator][strategies[i]] += shares[i];
            emit OperatorSharesIncreased(operator, staker, strategies[i], shares[i]);
        }
    }

    function _removeSharesAndQueueWithdrawal(address staker, address operator, address[] memory strategies,
                                             uint256[] memory depositSharesToWithdraw) internal returns (bytes32) {
        if (strategies.length == 0) revert InputArrayLengthZero();
        for (uint256 i = 0; i < strategies.length; i++) {
            if (operator != address(0)) {
                operatorShares[operator][strategies[i]] -= depositSharesToWithdraw[i];
                emit OperatorSharesDecreased(operator, staker, strategies[i], depositSharesToWithdraw[i]);
            }
            strategyManager.removeDepositShares(staker, strategies[i], depositSharesToWithdraw[i]);
        }
        uint256 nonce = cumulativeWithdrawalsQueued[staker];
        cumulativeWithdrawalsQueued[staker]++;
        Withdrawal memory withdrawal = Withdrawal({
            staker: staker,
            delegatedTo: operator,
            withdrawer: staker,
            nonce: nonce,
            startBlock: uint32(block.number),
            strategies: strategies,
            scaledShares: depositSharesToWithdraw
        });
        bytes32 withdrawalRoot = calculateWithdrawalRoot(withdrawal);
        pendingWithdrawals[withdrawalRoot] = true;
        _queuedWithdrawals[withdrawalRoot] = withdrawal;
        _stakerQueuedWithdrawalRoots[staker].push(withdrawalRoot);
        emit SlashingWithdrawalQueued(withdrawalRoot, withdrawal, depositSharesToWithdraw);
        return withdrawalRoot;
    }

    function _removeRoot(address staker, bytes32 root) internal {
        bytes32[] storage roots = _stakerQueuedWithdrawalRoots[staker];
        for (uint256 i = 0; i < roots.length; i++) {
            if (roots[i] == root) {
                roots[i] = roots[roots.length - 1];
                roots.pop();
                return;
            }
        }
    }
}
