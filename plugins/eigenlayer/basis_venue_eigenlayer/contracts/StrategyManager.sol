// SPDX-License-Identifier: MIT
// Not EigenLayer's code: ours, for basis-core tests. A strategy manager speaking the ABI of EigenLayer's
// StrategyManager (src/contracts/core/StrategyManager.sol of Layr-Labs/eigenlayer-contracts):
// depositIntoStrategy(strategy, token, amount) pulls the token into the whitelisted strategy, credits the
// staker's deposit shares (Deposit event) and tells the DelegationManager; stakerDepositShares, getDeposits,
// strategyIsWhitelistedForDeposit, addStrategiesToDepositWhitelist (owner); removeDepositShares, addShares and
// withdrawSharesAsTokens for the DelegationManager. No proxy, pausing, signatures, slashing or burn queues.
pragma solidity ^0.8.20;

interface IERC20SM {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

interface IStrategySM {
    function deposit(address token, uint256 amount) external returns (uint256);
    function withdraw(address recipient, address token, uint256 amountShares) external returns (uint256);
}

interface IDelegationManagerSM {
    function increaseDelegatedShares(address staker, address strategy, uint256 prevDepositShares,
                                     uint256 addedShares) external;
}

contract StrategyManager {
    IDelegationManagerSM public delegation;
    address public owner;

    mapping(address => mapping(address => uint256)) public stakerDepositShares;
    mapping(address => address[]) public stakerStrategyList;
    mapping(address => bool) public strategyIsWhitelistedForDeposit;

    event Deposit(address staker, address strategy, uint256 shares);
    event StrategyAddedToDepositWhitelist(address strategy);

    error OnlyDelegationManager();
    error OnlyOwner();
    error StrategyNotWhitelisted();
    error SharesAmountZero();
    error SharesAmountTooHigh();
    error StakerAddressZero();
    error AlreadyInitialized();

    constructor() {
        owner = msg.sender;
    }

    function initialize(address _delegation) external {
        if (msg.sender != owner) revert OnlyOwner();
        if (address(delegation) != address(0)) revert AlreadyInitialized();
        delegation = IDelegationManagerSM(_delegation);
    }

    modifier onlyDelegationManager() {
        if (msg.sender != address(delegation)) revert OnlyDelegationManager();
        _;
    }

    function depositIntoStrategy(address strategy, address token, uint256 amount)
        external returns (uint256 depositShares)
    {
        if (!strategyIsWhitelistedForDeposit[strategy]) revert StrategyNotWhitelisted();
        require(IERC20SM(token).transferFrom(msg.sender, strategy, amount), "StrategyManager: transfer failed");
        depositShares = IStrategySM(strategy).deposit(token, amount);
        (uint256 prevDepositShares, uint256 addedShares) = _addShares(msg.sender, strategy, depositShares);
        delegation.increaseDelegatedShares(msg.sender, strategy, prevDepositShares, addedShares);
        return depositShares;
    }

    function addStrategiesToDepositWhitelist(address[] calldata strategiesToWhitelist) external {
        if (msg.sender != owner) revert OnlyOwner();
        for (uint256 i = 0; i < strategiesToWhitelist.length; i++) {
            if (!strategyIsWhitelistedForDeposit[strategiesToWhitelist[i]]) {
                strategyIsWhitelistedForDeposit[strategiesToWhitelist[i]] = true;
                emit StrategyAddedToDepositWhitelist(strategiesToWhitelist[i]);
            }
        }
    }

    function removeDepositShares(address staker, address strategy, uint256 depositSharesToRemove)
        external onlyDelegationManager returns (uint256)
    {
        if (depositSharesToRemove == 0) revert SharesAmountZero();
        uint256 userDepositShares = stakerDepositShares[staker][strategy];
        if (depositSharesToRemove > userDepositShares) revert SharesAmountTooHigh();
        userDepositShares -= depositSharesToRemove;
        stakerDepositShares[staker][strategy] = userDepositShares;
        if (userDepositShares == 0) _removeStrategyFromList(staker, strategy);
        return userDepositShares;
    }

    function addShares(address staker, address strategy, uint256 shares)
        external onlyDelegationManager returns (uint256, uint256)
    {
        return _addShares(staker, strategy, shares);
    }

    function withdrawSharesAsTokens(address staker, address strategy, address token, uint256 shares)
        external onlyDelegationManager
    {
        IStrategySM(strategy).withdraw(staker, token, shares);
    }

    function getDeposits(address staker) external view returns (address[] memory, uint256[] memory) {
        address[] memory strategies = stakerStrategyList[staker];
        uint256[] memory depositedShares = new uint256[](strategies.length);
        for (uint256 i = 0; i < strategies.length; i++) {
            depositedShares[i] = stakerDepositShares[staker][strategies[i]];
        }
        return (strategies, depositedShares);
    }

    function stakerStrategyListLength(address staker) external view returns (uint256) {
        return stakerStrategyList[staker].length;
    }

    function _addShares(address staker, address strategy, uint256 shares) internal returns (uint256, uint256) {
        if (staker == address(0)) revert StakerAddressZero();
        if (shares == 0) revert SharesAmountZero();
        uint256 prevDepositShares = stakerDepositShares[staker][strategy];
        if (prevDepositShares == 0) stakerStrategyList[staker].push(strategy);
        stakerDepositShares[staker][strategy] = prevDepositShares + shares;
        emit Deposit(staker, strategy, shares);
        return (prevDepositShares, shares);
    }

    function _removeStrategyFromList(address staker, address strategy) internal {
        address[] storage list = stakerStrategyList[staker];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == strategy) {
                list[i] = list[list.length - 1];
                list.pop();
                return;
            }
        }
    }
}
